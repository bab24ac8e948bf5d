using System.Text.Json;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using LabManager.Workflows.Pools;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LabManager.Workflows.Sessions;

/// <summary>
/// <see cref="ILabSessionControl"/> on a Durable Task client: one orchestration per instance, events for commands. The client is
/// looked up at each call, not at construction: the Functions host hands it over with the first trigger that binds one, which may
/// come after this service is built (the sweep's class is built before its trigger runs).
/// </summary>
public sealed class DurableLabSessionControl(IServiceProvider services, IOptions<LabSessionOptions> options) : ILabSessionControl
{
    private DurableTaskClient Client => services.GetRequiredService<DurableTaskClient>();

    public TimeSpan MaxLifetime => options.Value.MaxLifetime;

    public Task StartAsync(Guid instanceId, Guid userId, Lab lab, TimeSpan sessionLength, CancellationToken cancellationToken = default) =>
        Client.ScheduleNewOrchestrationInstanceAsync(
            nameof(LabSessionOrchestrator), Input(instanceId, userId, lab, sessionLength), new StartOrchestrationOptions(instanceId.ToString()), cancellationToken);

    public Task StartPooledAsync(Guid instanceId, Lab lab, CancellationToken cancellationToken = default) =>
        Client.ScheduleNewOrchestrationInstanceAsync(nameof(LabSessionOrchestrator),
            Input(instanceId, LabPool.Owner, lab, lab.TimeoutDuration) with { PoolMaxAge = (lab.Pool ?? LabPool.None).MaxAge },
            new StartOrchestrationOptions(instanceId.ToString()), cancellationToken);

    public Task ClaimAsync(Guid instanceId, Guid userId, Lab lab, TimeSpan sessionLength, CancellationToken cancellationToken = default) =>
        Client.RaiseEventAsync(instanceId.ToString(), LabEvents.Claim, new ClaimRequest(userId, sessionLength, IdleTimeout(lab)), cancellationToken);

    public async Task WakePoolKeeperAsync(Guid labId, int maxGlobal, CancellationToken cancellationToken = default)
    {
        var id = LabPool.KeeperId(labId);
        var state = await Client.GetInstanceAsync(id, cancellationToken);
        if (state is null || state.IsCompleted)
        {
            try
            {
                await Client.ScheduleNewOrchestrationInstanceAsync(nameof(PoolKeeperOrchestrator), new PoolKeeperInput(labId, maxGlobal),
                    new StartOrchestrationOptions(id), cancellationToken);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Another replica or request started it first: wake that one.
            }
        }

        await Client.RaiseEventAsync(id, LabEvents.WakeKeeper, maxGlobal, cancellationToken);
    }

    private LabSessionInput Input(Guid instanceId, Guid userId, Lab lab, TimeSpan sessionLength) => new()
    {
        InstanceId = instanceId,
        UserId = userId,
        LabId = lab.Id,
        Lab = SessionLab.From(lab),
        SessionLength = sessionLength,
        MaxLifetime = options.Value.MaxLifetime,
        Timings = options.Value.Timings,
        IdleTimeout = IdleTimeout(lab),
    };

    private TimeSpan IdleTimeout(Lab lab) => lab.IdleTimeoutMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : options.Value.IdleTimeout;

    public Task StopAsync(Guid instanceId, string reason, CancellationToken cancellationToken = default) =>
        Client.RaiseEventAsync(instanceId.ToString(), LabEvents.Stop, new StopRequest(reason), cancellationToken);

    public Task RestartAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        Client.RaiseEventAsync(instanceId.ToString(), LabEvents.Restart, true, cancellationToken);

    public Task ResetAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        Client.RaiseEventAsync(instanceId.ToString(), LabEvents.Reset, true, cancellationToken);

    public Task ExtendAsync(Guid instanceId, TimeSpan by, CancellationToken cancellationToken = default) =>
        Client.RaiseEventAsync(instanceId.ToString(), LabEvents.Extend, new ExtendRequest(by), cancellationToken);

    public bool IsVmKey(Guid instanceId, string? key) => options.Value.PhoneHomeKey is { Length: > 0 } secret && PhoneHome.Matches(secret, instanceId, key);

    public Task VmSeenAsync(Guid instanceId, VmSighting sighting, CancellationToken cancellationToken = default) =>
        Client.RaiseEventAsync(instanceId.ToString(), LabEvents.VmSeen, sighting, cancellationToken);

    public Task ReportHealthAsync(Guid instanceId, LabHealthReport report, CancellationToken cancellationToken = default) =>
        Client.RaiseEventAsync(instanceId.ToString(), LabEvents.Health, report, cancellationToken);

    public async Task<bool> LabReadyAsync(Guid instanceId, string? key, int generation, int boot, CancellationToken cancellationToken = default)
    {
        if (!IsVmKey(instanceId, key))
        {
            return false;
        }

        await Client.RaiseEventAsync(instanceId.ToString(), LabEvents.LabReady, new LabReport(generation, boot), cancellationToken);
        return true;
    }

    public async Task<SessionProgress?> GetProgressAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        // Some backends only return the custom status with the inputs and outputs.
        var state = await Client.GetInstanceAsync(instanceId.ToString(), getInputsAndOutputs: true, cancellationToken);
        if (state is null)
        {
            return null;
        }

        string? step = null, message = null;
        if (state.SerializedCustomStatus is { Length: > 0 } custom)
        {
            // "null" until the session set one (an engine may say so before its first step).
            using var doc = JsonDocument.Parse(custom);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                step = doc.RootElement.TryGetProperty("step", out var s) ? s.GetString() : null;
                message = doc.RootElement.TryGetProperty("message", out var m) ? m.GetString() : null;
            }
        }

        return new SessionProgress(state.RuntimeStatus.ToString(), step, message);
    }
}
