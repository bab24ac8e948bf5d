using LabManager.Core.Instances;
using LabManager.Core.Ports;

namespace LabManager.Core.Realtime;

/// <summary>
/// The live-status contract, the same on both hosts: the hub, its two client methods, the groups (names valid for ASP.NET Core
/// SignalR and Azure SignalR Service alike) and the payloads.
/// </summary>
public static class LabsRealtime
{
    /// <summary>The Server's hub.</summary>
    public const string HubPath = "/hubs/labs";

    /// <summary>The Azure SignalR Service hub the Functions app negotiates for.</summary>
    public const string HubName = "labs";

    public const string StatusMethod = "lab:status";
    public const string NotificationMethod = "lab:notification";

    /// <summary>Every operator's connections: the full status of every instance.</summary>
    public const string OperatorsGroup = "operators";

    /// <summary>A learner's connections: the full status of their instances and their notifications.</summary>
    public static string UserGroup(Guid userId) => $"user_{userId:N}";

    /// <summary>Subscribers of a lab (<c>subscribe:lab</c>): its instances' status without message or access URL.</summary>
    public static string LabGroup(Guid labId) => $"lab_{labId:N}";

    /// <summary>How far a lab start is, in the order the page shows them.</summary>
    public static readonly string[] StartSteps = ["requested", "creating-vm", "waiting-for-vm", "waiting-for-lab", "running"];

    /// <summary>The share of the start done at <paramref name="step"/>: 0.2 requested … 1 running; 1 once the lab winds down or ended.</summary>
    public static double Progress(LabInstanceStatus status, string? step)
    {
        if (status is not (LabInstanceStatus.Starting or LabInstanceStatus.Provisioning))
        {
            return 1;
        }

        var index = Math.Max(0, Array.IndexOf(StartSteps, step));
        return Math.Round((index + 1.0) / StartSteps.Length, 2);
    }
}

/// <summary>
/// The <c>lab:status</c> payload: the status, the workflow's current step, how far the start is (0–1), and when it was sent
/// (<c>at</c>: a client that hears two messages of one instance out of order keeps the later).
/// </summary>
public sealed record LabStatusMessage(
    Guid InstanceId, Guid LabId, string Status, string? Step, double Progress, string? Message, string? AccessUrl, DateTimeOffset? ExpiresAt,
    DateTimeOffset At)
{
    public static LabStatusMessage From(LabStatusEvent e, DateTimeOffset at) => new(
        e.InstanceId, e.LabId, e.Status.ToWire(), e.Step, LabsRealtime.Progress(e.Status, e.Step), e.Message, e.AccessUrl, e.ExpiresAt, at);
}

/// <summary>The hub's clients as the contract sees them; the Server's hub and the Azure SignalR publisher implement it.</summary>
public interface ILabsClient
{
    /// <summary>Sends <c>lab:status</c> to every connection in <paramref name="groups"/>.</summary>
    Task StatusAsync(IReadOnlyList<string> groups, LabStatusMessage status, CancellationToken cancellationToken);

    /// <summary>Sends <c>lab:notification</c> to every connection in <paramref name="group"/>.</summary>
    Task NotificationAsync(string group, LabNotification notification, CancellationToken cancellationToken);
}

/// <summary>
/// <see cref="INotifier"/> over the contract, for both hosts: the owner and operators get the full <c>lab:status</c>, the lab's
/// subscribers get it without message and access URL, and notifications go to the owner.
/// </summary>
public sealed class RealtimeNotifier(ILabsClient clients, TimeProvider time) : INotifier
{
    public async Task StatusChangedAsync(LabStatusEvent statusEvent, CancellationToken cancellationToken = default)
    {
        var full = LabStatusMessage.From(statusEvent, time.GetUtcNow());
        await clients.StatusAsync([LabsRealtime.UserGroup(statusEvent.UserId), LabsRealtime.OperatorsGroup], full, cancellationToken);
        await clients.StatusAsync([LabsRealtime.LabGroup(statusEvent.LabId)], full with { Message = null, AccessUrl = null }, cancellationToken);
    }

    public Task NotifyAsync(Guid userId, LabNotification notification, CancellationToken cancellationToken = default) =>
        clients.NotificationAsync(LabsRealtime.UserGroup(userId), notification, cancellationToken);

    public Task NotifyOperatorsAsync(LabNotification notification, CancellationToken cancellationToken = default) =>
        clients.NotificationAsync(LabsRealtime.OperatorsGroup, notification, cancellationToken);
}
