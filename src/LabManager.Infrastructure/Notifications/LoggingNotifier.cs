using LabManager.Core.Ports;
using Microsoft.Extensions.Logging;

namespace LabManager.Infrastructure.Notifications;

/// <summary>Writes status changes and notifications to the log: the Functions app's notifier until it publishes through Azure SignalR Service.</summary>
public sealed class LoggingNotifier(ILogger<LoggingNotifier> logger) : INotifier
{
    public Task StatusChangedAsync(LabStatusEvent statusEvent, CancellationToken cancellationToken = default)
    {
        logger.LogInformation("lab:status user {UserId} instance {InstanceId} → {Status} {Message}",
            statusEvent.UserId, statusEvent.InstanceId, statusEvent.Status, statusEvent.Message);
        return Task.CompletedTask;
    }

    public Task NotifyAsync(Guid userId, LabNotification notification, CancellationToken cancellationToken = default)
    {
        logger.LogInformation("lab:notification user {UserId} {Type}: {Message}", userId, notification.Type, notification.Message);
        return Task.CompletedTask;
    }

    public Task NotifyOperatorsAsync(LabNotification notification, CancellationToken cancellationToken = default)
    {
        logger.LogWarning("lab:notification operators {Type}: {Message}", notification.Type, notification.Message);
        return Task.CompletedTask;
    }
}
