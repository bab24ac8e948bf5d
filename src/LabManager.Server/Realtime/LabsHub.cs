using LabManager.Api.Auth;
using LabManager.Core.Realtime;
using Microsoft.AspNetCore.SignalR;

namespace LabManager.Server.Realtime;

/// <summary>
/// <c>/hubs/labs</c>: each connection joins its user's group and receives <c>lab:status</c> and <c>lab:notification</c> for
/// that user's instances (operators: every instance's <c>lab:status</c>); <c>subscribe:lab</c> adds the lab's feed (status changes of that lab, without access details).
/// Only learners with a valid token connect (policy <c>learner</c>), and a connection is closed when its token expires.
/// </summary>
public sealed class LabsHub : Hub
{
    public override async Task OnConnectedAsync()
    {
        var caller = LabAuthentication.CallerOf(Context.User!);
        await Groups.AddToGroupAsync(Context.ConnectionId, LabsRealtime.UserGroup(caller.Id));
        if (caller.IsAdmin)
        {
            await Groups.AddToGroupAsync(Context.ConnectionId, LabsRealtime.OperatorsGroup);
        }

        await base.OnConnectedAsync();
    }

    [HubMethodName("subscribe:lab")]
    public Task SubscribeLab(string labId) => Groups.AddToGroupAsync(Context.ConnectionId, LabsRealtime.LabGroup(ParseLab(labId)));

    [HubMethodName("unsubscribe:lab")]
    public Task UnsubscribeLab(string labId) => Groups.RemoveFromGroupAsync(Context.ConnectionId, LabsRealtime.LabGroup(ParseLab(labId)));

    private static Guid ParseLab(string labId) =>
        Guid.TryParse(labId, out var id) ? id : throw new HubException("The lab id must be a UUID");
}
