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
    /// <summary>How long one call may take before it is abandoned (and retried, when that is safe).</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

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
            ShouldHandle = async args => options.MaxRetries > 0 && await ShouldRetryAsync(args.Outcome, args.Context.GetRequestMessage()),
        });
        builder.AddRateLimiter(limiter);
        builder.AddTimeout(CallTimeout);
    }

    /// <summary>
    /// 429 is always safe to retry: the call was not processed. A 5xx or a lost connection is retried except
    /// for a create, which may have happened: the provider's label lookup settles that instead of a blind retry. A VM that is
    /// locked (Vultr's 500 "Server is currently locked", for the first half-minute of a boot) stays so for longer than these
    /// retries last: the caller hears it at once and decides (the workflow's destroy retries for minutes, reconciliation moves on).
    /// </summary>
    private static async ValueTask<bool> ShouldRetryAsync(Outcome<HttpResponseMessage> outcome, HttpRequestMessage? request)
    {
        if (outcome.Result?.StatusCode == HttpStatusCode.TooManyRequests)
        {
            return true;
        }

        if (outcome.Result is { StatusCode: HttpStatusCode.InternalServerError } locked
            && VultrError.Read(await locked.Content.ReadAsStringAsync()) is { } error && error.EndsWith("currently locked", StringComparison.Ordinal))
        {
            return false;
        }

        var transient = outcome.Result is { } r ? (int)r.StatusCode >= 500 : outcome.Exception is HttpRequestException or TimeoutException or Polly.Timeout.TimeoutRejectedException;
        return transient && !IsCreate(request);
    }

    private static bool IsCreate(HttpRequestMessage? request) =>
        request is null || (request.Method == HttpMethod.Post && request.RequestUri?.AbsolutePath.EndsWith("/instances", StringComparison.Ordinal) == true);
}
