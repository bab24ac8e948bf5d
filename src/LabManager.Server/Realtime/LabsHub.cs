using LabManager.Core.Ports;
using Microsoft.AspNetCore.SignalR;

namespace LabManager.Server.Realtime;

/// <summary>
/// <c>/hubs/labs</c>: each connection joins its user's group and receives <c>lab:status</c> and <c>lab:notification</c> for
/// that user's instances (operators: every instance's <c>lab:status</c>); <c>subscribe:lab</c> adds the lab's feed (status changes of that lab, without access details).
/// The caller is authenticated by <see cref="HubAuthentication"/> before the connection is accepted.
/// </summary>
public sealed class LabsHub : Hub
{
    public const string Path = "/hubs/labs";
    public const string StatusMethod = "lab:status";
    public const string NotificationMethod = "lab:notification";

    public static string UserGroup(Guid userId) => $"user:{userId}";

    public static string LabGroup(Guid labId) => $"lab:{labId}";

    public const string OperatorsGroup = "operators";

    public override async Task OnConnectedAsync()
    {
        await Groups.AddToGroupAsync(Context.ConnectionId, UserGroup(Caller.Id));
        if (Caller.IsAdmin)
        {
            await Groups.AddToGroupAsync(Context.ConnectionId, OperatorsGroup);
        }

        await base.OnConnectedAsync();
    }

    [HubMethodName("subscribe:lab")]
    public Task SubscribeLab(string labId) => Groups.AddToGroupAsync(Context.ConnectionId, LabGroup(ParseLab(labId)));

    [HubMethodName("unsubscribe:lab")]
    public Task UnsubscribeLab(string labId) => Groups.RemoveFromGroupAsync(Context.ConnectionId, LabGroup(ParseLab(labId)));

    private UserRef Caller => (UserRef)Context.GetHttpContext()!.Items[HubAuthentication.UserKey]!;

    private static Guid ParseLab(string labId) =>
        Guid.TryParse(labId, out var id) ? id : throw new HubException("The lab id must be a UUID");
}
