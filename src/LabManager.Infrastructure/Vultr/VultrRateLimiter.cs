using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LabManager.Infrastructure.Vultr;

/// <summary>
/// Vultr counts its 30 requests/s per source IP, so every app instance behind one outbound address shares one budget. With Redis,
/// each call reserves the next free slot of the deployment's schedule (slots 1/N s apart, on Redis's clock) and waits for it, so
/// calls from every process go out evenly spaced; then it takes one of N places that a call holds from when it goes until a second
/// after its answer. Vultr cannot see N + 1 calls in one second that way, however late timers fire on a busy machine or long a
/// call's way is: each of N calls it counted in a second held its place until that second was over. While Redis is unreachable,
/// each process keeps to its share, N / <see cref="VultrOptions.Replicas"/>, on its own.
/// </summary>
public sealed class VultrRateLimiter : RateLimiter
{
    /// <summary>Reserves the next slot; answers the wait in microseconds, or -1 when it is further off than the queue allows.</summary>
    private const string ReserveScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local interval = tonumber(ARGV[1])
        local at = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
        if at - now > tonumber(ARGV[2]) then return -1 end
        redis.call('SET', KEYS[1], at + interval, 'PX', math.floor((at - now + interval) / 1000) + 1000)
        return at - now
        """;

    /// <summary>
    /// Takes a place (ARGV[3]) when fewer than ARGV[1] are held, until ARGV[2] µs from now at the latest (answers 0); or answers the
    /// µs until the first held place is free.
    /// </summary>
    private const string TakePlaceScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
          redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
          redis.call('PEXPIRE', KEYS[1], math.floor(tonumber(ARGV[2]) / 1000) + 1000)
          return 0
        end
        return tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) - now + 1
        """;

    /// <summary>Holds the answered call's place (ARGV[1]) one more second.</summary>
    private const string ReleaseScript = """
        local t = redis.call('TIME')
        redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) * 1000000 + tonumber(t[2]) + 1000000, ARGV[1])
        """;

    /// <summary>How long a call's place is held if its process never says it was answered: the call's timeout and a second.</summary>
    private static readonly TimeSpan LongestHold = VultrHttpPipeline.CallTimeout + TimeSpan.FromSeconds(1);

    private static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(2);
    private readonly IConnectionMultiplexer? _redis;
    private readonly RedisKey _key;
    private readonly RedisKey _placesKey;
    private readonly int _limit;
    private readonly long _intervalMicros;
    private readonly TokenBucketRateLimiter _local;
    private readonly ILogger _logger;
    private readonly Redis.OutageWarning _outage = new();

    public VultrRateLimiter(VultrOptions options, IConnectionMultiplexer? redis, ILogger<VultrRateLimiter> logger)
    {
        _redis = redis;
        _logger = logger;
        _key = Redis.RedisCache.Key("vultr-schedule");
        _placesKey = Redis.RedisCache.Key("vultr-places");
        _limit = options.MaxRequestsPerSecond;
        _intervalMicros = 1_000_000 / options.MaxRequestsPerSecond;
        // One token refilled every 1/n s: bunched timer ticks on a busy machine cannot add up to a burst above the limit.
        var share = redis is null ? options.MaxRequestsPerSecond : Math.Max(1.0, (double)options.MaxRequestsPerSecond / options.Replicas);
        _local = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = 1,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1.0 / share),
            QueueLimit = 10_000,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });
    }

    /// <summary>Whether the last call was paced through Redis (false: this process's share alone).</summary>
    public bool Shared { get; private set; }

    public override TimeSpan? IdleDuration => _local.IdleDuration;

    public override RateLimiterStatistics? GetStatistics() => _local.GetStatistics();

    protected override RateLimitLease AttemptAcquireCore(int permitCount) => _local.AttemptAcquire(permitCount);

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        if (_redis is { IsConnected: true })
        {
            try
            {
                var wait = (long)await _redis.GetDatabase().ScriptEvaluateAsync(ReserveScript, [_key], [_intervalMicros, (long)MaxWait.TotalMicroseconds]);
                Shared = true;
                if (wait < 0)
                {
                    return Lease.Refused;
                }

                if (wait > 0)
                {
                    await Task.Delay(TimeSpan.FromMicroseconds(wait), cancellationToken);
                }

                var place = Guid.NewGuid().ToString("N");
                while ((wait = (long)await _redis.GetDatabase().ScriptEvaluateAsync(TakePlaceScript, [_placesKey], [_limit, (long)LongestHold.TotalMicroseconds, place])) > 0)
                {
                    await Task.Delay(TimeSpan.FromMicroseconds(wait), cancellationToken);
                }

                return new PlaceLease(this, place);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                Warn(ex.Message);
            }
        }
        else if (_redis is not null)
        {
            Warn("not connected");
        }

        Shared = false;
        return await _local.AcquireAsync(permitCount, cancellationToken);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _local.Dispose();
        }

        base.Dispose(disposing);
    }

    private void Warn(string reason)
    {
        if (_outage.Due())
        {
            _logger.LogWarning("Redis unavailable ({Reason}): pacing Vultr calls at this process's share of the limit", reason);
        }
    }

    /// <summary>Disposed once the call was answered (or failed): its place is then held one more second, not until it times out.</summary>
    private sealed class PlaceLease(VultrRateLimiter limiter, string place) : Lease(true)
    {
        protected override void Dispose(bool disposing)
        {
            if (disposing && limiter._redis is { } redis)
            {
                // Fire and forget: should it be lost, the place frees itself after LongestHold.
                redis.GetDatabase().ScriptEvaluate(ReleaseScript, [limiter._placesKey], [place], CommandFlags.FireAndForget);
            }

            base.Dispose(disposing);
        }
    }

    private class Lease(bool acquired) : RateLimitLease
    {
        public static readonly Lease Refused = new(false);

        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}
