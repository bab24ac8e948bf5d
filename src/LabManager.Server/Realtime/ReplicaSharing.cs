using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.StackExchangeRedis;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.StackExchangeRedis;
using StackExchange.Redis;

namespace LabManager.Server.Realtime;

/// <summary>
/// The hub's connections across replicas through the Redis backplane, and through this process alone while Redis is unreachable: every
/// connection and group is kept by both managers, a message goes out through Redis (which delivers it to every replica, this one
/// included) and, only when Redis cannot take it, straight to this replica's own connections. Live status is then degraded, never lost
/// where the step ran, and nothing that sends it fails.
/// </summary>
public sealed class RedisOrLocalLifetimeManager<THub>(HubLifetimeManager<THub> redis, HubLifetimeManager<THub> local, ILogger<RedisOrLocalLifetimeManager<THub>> logger)
    : HubLifetimeManager<THub> where THub : Hub
{
    private long _lastWarning;

    public override async Task OnConnectedAsync(HubConnectionContext connection)
    {
        await local.OnConnectedAsync(connection);
        await TryRedisAsync(() => redis.OnConnectedAsync(connection), "register a connection");
    }

    public override async Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        await local.OnDisconnectedAsync(connection);
        await TryRedisAsync(() => redis.OnDisconnectedAsync(connection), "remove a connection");
    }

    public override async Task AddToGroupAsync(string connectionId, string groupName, CancellationToken cancellationToken = default)
    {
        await local.AddToGroupAsync(connectionId, groupName, cancellationToken);
        await TryRedisAsync(() => redis.AddToGroupAsync(connectionId, groupName, cancellationToken), "join a group");
    }

    public override async Task RemoveFromGroupAsync(string connectionId, string groupName, CancellationToken cancellationToken = default)
    {
        await local.RemoveFromGroupAsync(connectionId, groupName, cancellationToken);
        await TryRedisAsync(() => redis.RemoveFromGroupAsync(connectionId, groupName, cancellationToken), "leave a group");
    }

    public override Task SendAllAsync(string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        SendAsync(m => m.SendAllAsync(methodName, args, cancellationToken));

    public override Task SendAllExceptAsync(string methodName, object?[] args, IReadOnlyList<string> excludedConnectionIds, CancellationToken cancellationToken = default) =>
        SendAsync(m => m.SendAllExceptAsync(methodName, args, excludedConnectionIds, cancellationToken));

    public override Task SendConnectionAsync(string connectionId, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        SendAsync(m => m.SendConnectionAsync(connectionId, methodName, args, cancellationToken));

    public override Task SendConnectionsAsync(IReadOnlyList<string> connectionIds, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        SendAsync(m => m.SendConnectionsAsync(connectionIds, methodName, args, cancellationToken));

    public override Task SendGroupAsync(string groupName, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        SendAsync(m => m.SendGroupAsync(groupName, methodName, args, cancellationToken));

    public override Task SendGroupsAsync(IReadOnlyList<string> groupNames, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        SendAsync(m => m.SendGroupsAsync(groupNames, methodName, args, cancellationToken));

    public override Task SendGroupExceptAsync(string groupName, string methodName, object?[] args, IReadOnlyList<string> excludedConnectionIds, CancellationToken cancellationToken = default) =>
        SendAsync(m => m.SendGroupExceptAsync(groupName, methodName, args, excludedConnectionIds, cancellationToken));

    public override Task SendUserAsync(string userId, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        SendAsync(m => m.SendUserAsync(userId, methodName, args, cancellationToken));

    public override Task SendUsersAsync(IReadOnlyList<string> userIds, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        SendAsync(m => m.SendUsersAsync(userIds, methodName, args, cancellationToken));

    private async Task SendAsync(Func<HubLifetimeManager<THub>, Task> send)
    {
        if (!await TryRedisAsync(() => send(redis), "send"))
        {
            await send(local);
        }
    }

    private async Task<bool> TryRedisAsync(Func<Task> action, string what)
    {
        try
        {
            await action();
            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException or InvalidOperationException)
        {
            // One warning per 30 s: while Redis is down every message would say the same.
            var now = Environment.TickCount64;
            if (now - Interlocked.Read(ref _lastWarning) > 30_000)
            {
                Interlocked.Exchange(ref _lastWarning, now);
                logger.LogWarning("Live status through Redis failed ({What}: {Error}); this replica's own connections are served alone until it is back", what, ex.Message);
            }

            return false;
        }
    }
}

/// <summary>What replicas share through Redis.</summary>
public static class ReplicaSharing
{
    /// <summary>
    /// Live status reaches a connection wherever it is (groups included), through this process alone while Redis is down; and the keys
    /// that seal the gateway's cookies are one ring, so a lab opened through one replica stays open through every other.
    /// </summary>
    public static IServiceCollection AddReplicaSharing(this IServiceCollection services, string redis)
    {
        services.Configure<RedisOptions>(o =>
        {
            o.Configuration = ConfigurationOptions.Parse(redis);
            o.Configuration.ChannelPrefix = RedisChannel.Literal("labmanager-signalr");
            // While Redis is down, a publish fails at once (and goes to this replica's connections) rather than waiting for it.
            o.Configuration.AbortOnConnectFail = false;
            o.Configuration.BacklogPolicy = BacklogPolicy.FailFast;
        });
        services.AddSingleton<HubLifetimeManager<LabsHub>>(sp => new RedisOrLocalLifetimeManager<LabsHub>(
            ActivatorUtilities.CreateInstance<RedisHubLifetimeManager<LabsHub>>(sp),
            ActivatorUtilities.CreateInstance<DefaultHubLifetimeManager<LabsHub>>(sp),
            sp.GetRequiredService<ILogger<RedisOrLocalLifetimeManager<LabsHub>>>()));
        services.AddOptions<KeyManagementOptions>().Configure<IConnectionMultiplexer>((o, mux) =>
            o.XmlRepository = new RedisXmlRepository(() => mux.GetDatabase(), "labmanager:data-protection-keys"));
        return services;
    }
}
