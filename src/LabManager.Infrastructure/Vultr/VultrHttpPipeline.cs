using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace LabManager.Infrastructure.Vultr;

/// <summary>
/// The Vultr client's resilience: retries with jittered exponential backoff honouring Retry-After, around a
/// client-side token bucket that keeps the account under Vultr's 30 requests/s.
/// </summary>
internal static class VultrHttpPipeline
{
    public static void Configure(ResiliencePipelineBuilder<HttpResponseMessage> builder, VultrOptions options, RateLimiter limiter)
    {
        builder.AddRetry(new HttpRetryStrategyOptions
        {
            MaxRetryAttempts = Math.Max(1, options.MaxRetries),
            Delay = options.RetryDelay,
            MaxDelay = TimeSpan.FromSeconds(10),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            ShouldRetryAfterHeader = true,
            ShouldHandle = args => ValueTask.FromResult(options.MaxRetries > 0 && ShouldRetry(args.Outcome, args.Context.GetRequestMessage())),
        });
        builder.AddRateLimiter(limiter);
        builder.AddTimeout(TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// One bucket per process holding a single token, refilled every 1/N s: calls go out evenly spaced, so bunched timer
    /// ticks on a busy machine cannot add up to a burst above Vultr's limit in any clock second.
    /// </summary>
    public static TokenBucketRateLimiter CreateLimiter(VultrOptions options) => new(new TokenBucketRateLimiterOptions
    {
        TokenLimit = 1,
        TokensPerPeriod = 1,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1.0 / options.MaxRequestsPerSecond),
        QueueLimit = 10_000,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        AutoReplenishment = true,
    });

    /// <summary>
    /// 429 is always safe to retry: the call was not processed. A 5xx or a lost connection is retried except
    /// for a create, which may have happened: the provider's label lookup settles that instead of a blind retry.
    /// </summary>
    internal static bool ShouldRetry(Outcome<HttpResponseMessage> outcome, HttpRequestMessage? request)
    {
        if (outcome.Result?.StatusCode == HttpStatusCode.TooManyRequests)
        {
            return true;
        }

        var transient = outcome.Result is { } r ? (int)r.StatusCode >= 500 : outcome.Exception is HttpRequestException or TimeoutException or Polly.Timeout.TimeoutRejectedException;
        return transient && !IsCreate(request);
    }

    private static bool IsCreate(HttpRequestMessage? request) =>
        request is null || (request.Method == HttpMethod.Post && request.RequestUri?.AbsolutePath.EndsWith("/instances", StringComparison.Ordinal) == true);
}
