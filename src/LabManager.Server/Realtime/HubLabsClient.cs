using LabManager.Core.Ports;
using LabManager.Core.Realtime;
using Microsoft.AspNetCore.SignalR;

namespace LabManager.Server.Realtime;

/// <summary>The contract's clients on the Server's own hub. Sending never waits on a browser: it only queues to the connections.</summary>
public sealed class HubLabsClient(IHubContext<LabsHub> hub, ILogger<HubLabsClient> logger) : ILabsClient
{
    public async Task StatusAsync(IReadOnlyList<string> groups, LabStatusMessage status, CancellationToken cancellationToken)
    {
        await hub.Clients.Groups(groups).SendAsync(LabsRealtime.StatusMethod, status, cancellationToken);
        logger.LogInformation("lab:status {InstanceId} → {Status} ({Step})", status.InstanceId, status.Status, status.Step);
    }

    public Task NotificationAsync(string group, LabNotification notification, CancellationToken cancellationToken) =>
        hub.Clients.Group(group).SendAsync(LabsRealtime.NotificationMethod, notification, cancellationToken);
}
