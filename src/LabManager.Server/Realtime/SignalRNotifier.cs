using LabManager.Api.Realtime;
using LabManager.Core.Ports;
using Microsoft.AspNetCore.SignalR;

namespace LabManager.Server.Realtime;

/// <summary>
/// <see cref="INotifier"/> over the Server's hub: the owner and operators get the full <c>lab:status</c>; the lab's subscribers get it
/// without the message and access URL. Sending never waits on a browser: it only queues to the connections.
/// </summary>
public sealed class SignalRNotifier(IHubContext<LabsHub> hub, ILogger<SignalRNotifier> logger) : INotifier
{
    public async Task StatusChangedAsync(LabStatusEvent statusEvent, CancellationToken cancellationToken = default)
    {
        var e = statusEvent;
        var full = new StatusMessage(e.InstanceId, e.LabId, e.Status.ToString().ToLowerInvariant(), e.Message, e.AccessUrl, e.ExpiresAt);
        await hub.Clients.Groups(LabsRealtime.UserGroup(e.UserId), LabsRealtime.OperatorsGroup).SendAsync(LabsRealtime.StatusMethod, full, cancellationToken);
        await hub.Clients.Group(LabsRealtime.LabGroup(e.LabId)).SendAsync(LabsRealtime.StatusMethod, full with { Message = null, AccessUrl = null }, cancellationToken);
        logger.LogInformation("lab:status {InstanceId} → {Status}", e.InstanceId, full.Status);
    }

    public Task NotifyAsync(Guid userId, LabNotification notification, CancellationToken cancellationToken = default) =>
        hub.Clients.Group(LabsRealtime.UserGroup(userId)).SendAsync(LabsRealtime.NotificationMethod, notification, cancellationToken);
}

/// <summary>The <c>lab:status</c> payload.</summary>
public sealed record StatusMessage(Guid InstanceId, Guid LabId, string Status, string? Message, string? AccessUrl, DateTimeOffset? ExpiresAt);
