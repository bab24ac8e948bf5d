using LabManager.Core.Instances;
using LabManager.Core.Labs;

namespace LabManager.Core.Ports;

/// <summary>
/// An optional, best-effort cache in front of the stores: a miss or an outage only means reading the store. Instance
/// details expire after a few minutes and are removed on every change; the catalog is kept until a lab changes.
/// </summary>
public interface IInstanceCache
{
    Task<LabInstance?> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default);

    Task SetInstanceAsync(LabInstance instance, CancellationToken cancellationToken = default);

    Task RemoveInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<Lab>?> GetCatalogAsync(CancellationToken cancellationToken = default);

    Task SetCatalogAsync(IReadOnlyList<Lab> labs, CancellationToken cancellationToken = default);

    Task RemoveCatalogAsync(CancellationToken cancellationToken = default);
}
