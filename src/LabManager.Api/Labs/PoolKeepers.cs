using LabManager.Core.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Api.Labs;

/// <summary>
/// Starts (or wakes) the pools' keepers, telling them the global quota: one lab's when its pool changes or a VM is claimed, and every
/// lab's that has a pool at start-up and with each reconciliation, so a pool set in the catalog file is kept, and a keeper that ended or
/// failed is started again.
/// </summary>
public sealed class PoolKeepers(ILabCatalog catalog, ILabSessionControl sessions, IOptions<ApiOptions> options, ILogger<PoolKeepers> logger)
{
    public async Task EnsureAllAsync(CancellationToken cancellationToken)
    {
        foreach (var lab in await catalog.ListAsync(cancellationToken))
        {
            if (lab.Pool is not { Max: > 0 })
            {
                continue;
            }

            try
            {
                await WakeAsync(lab.Id, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "The pool keeper of {Lab} could not be started; the next reconciliation tries again", lab.Slug);
            }
        }
    }

    /// <summary>Starts or wakes one lab's keeper, telling it the global quota as configured now.</summary>
    public Task WakeAsync(Guid labId, CancellationToken cancellationToken) =>
        sessions.WakePoolKeeperAsync(labId, options.Value.MaxGlobalInstances, cancellationToken);
}
