using System.Text.Json;
using System.Text.Json.Serialization;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LabManager.Infrastructure.Redis;

/// <summary>
/// <see cref="IInstanceCache"/> on one Redis connection. Never fails a request: while Redis is unreachable every call is a
/// miss (logged), and the multiplexer reconnects in the background.
/// </summary>
public sealed class RedisCache : IInstanceCache
{
    /// <summary>How long instance details are kept; every status change removes them sooner.</summary>
    public static readonly TimeSpan InstanceTtl = TimeSpan.FromMinutes(5);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };
    private readonly IConnectionMultiplexer _redis;
    private readonly ILogger<RedisCache> _logger;
    private readonly OutageWarning _outage = new();

    public RedisCache(IConnectionMultiplexer redis, ILogger<RedisCache> logger)
    {
        _logger = logger;
        _redis = redis;
    }

    /// <summary>
    /// The deployment's one Redis connection: it never fails at start (a Redis that is down is retried in the background) and
    /// gives up on a call after half a second, so an outage slows nothing down.
    /// </summary>
    public static IConnectionMultiplexer Connect(string connectionString)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 1000;
        options.SyncTimeout = 500;
        options.AsyncTimeout = 500;
        return ConnectionMultiplexer.Connect(options);
    }

    /// <summary>Every key starts with this prefix, so the cache can share a Redis with other applications.</summary>
    public static string Key(string kind, string id = "") => id.Length == 0 ? $"labmanager:{kind}" : $"labmanager:{kind}:{id}";

    public Task<LabInstance?> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        GetAsync<LabInstance>(Key("instance", instanceId.ToString()));

    public Task SetInstanceAsync(LabInstance instance, CancellationToken cancellationToken = default) =>
        SetAsync(Key("instance", instance.Id.ToString()), instance, InstanceTtl);

    public Task RemoveInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        Run(db => db.KeyDeleteAsync(Key("instance", instanceId.ToString())));

    public async Task<IReadOnlyList<Lab>?> GetCatalogAsync(CancellationToken cancellationToken = default) =>
        await GetAsync<List<Lab>>(Key("catalog"));

    /// <summary>
    /// How long the cached catalog is kept at most: every change removes it at once, and this bounds how long a copy filled from a read
    /// that raced a change could be served.
    /// </summary>
    public static readonly TimeSpan CatalogTtl = TimeSpan.FromMinutes(1);

    public Task SetCatalogAsync(IReadOnlyList<Lab> labs, CancellationToken cancellationToken = default) => SetAsync(Key("catalog"), labs, CatalogTtl);

    public Task RemoveCatalogAsync(CancellationToken cancellationToken = default) => Run(db => db.KeyDeleteAsync(Key("catalog")));


    private async Task<T?> GetAsync<T>(string key)
        where T : class
    {
        var value = await Run(db => db.StringGetAsync(key));
        return value is { IsNullOrEmpty: false } v ? JsonSerializer.Deserialize<T>(v.ToString(), Json) : null;
    }

    private Task<RedisValue?> SetAsync<T>(string key, T value, TimeSpan? ttl) =>
        Run(db => db.StringSetAsync(key, JsonSerializer.Serialize(value, Json), ttl is { } t ? new Expiration(t) : Expiration.Default));

    private async Task<RedisValue?> Run(Func<IDatabase, Task<RedisValue>> call)
    {
        if (!_redis.IsConnected)
        {
            Warn("not connected");
            return null;
        }

        try
        {
            return await call(_redis.GetDatabase());
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Warn(ex.Message);
            return null;
        }
    }

    private Task<RedisValue?> Run(Func<IDatabase, Task<bool>> call) => Run(async db => (RedisValue)await call(db));

    private void Warn(string reason)
    {
        if (_outage.Due())
        {
            _logger.LogWarning("Redis unavailable ({Reason}); serving from PostgreSQL", reason);
        }
    }
}
