using System.Net;
using Microsoft.Extensions.Logging;

namespace LabManager.Infrastructure.Vultr;

/// <summary>How the most recent Vultr call went: <see cref="Ok"/>, or what failed in Vultr's own words.</summary>
public sealed record VultrCallOutcome(DateTimeOffset At, bool Ok, string Detail);

/// <summary>Sits in front of the Vultr client's retries and tells <see cref="VultrCallLog"/> how each call ended.</summary>
public sealed class VultrCallRecorder(VultrCallLog log) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException or Polly.Timeout.TimeoutRejectedException)
        {
            log.Record(false, "Vultr did not answer: " + ex.Message);
            throw;
        }

        var status = (int)response.StatusCode;
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden || status >= 500)
        {
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            var error = VultrError.Read(await response.Content.ReadAsStringAsync(cancellationToken));
            log.Record(false, $"Vultr answered {status}" + (error is null ? "" : ": " + error));
        }
        else
        {
            // 404 (a VM already gone) and 429 (busy) are answers of a working API.
            log.Record(true, response.StatusCode == HttpStatusCode.TooManyRequests ? "ok (rate limited)" : "ok");
        }

        return response;
    }
}

/// <summary>
/// How the latest Vultr call ended, so a health check reads it instead of calling Vultr. A refused key (<c>401</c>, e.g.
/// <c>Unauthorized IP address: x.x.x.x</c>) is logged as an error, once per change.
/// </summary>
public sealed class VultrCallLog(TimeProvider time, ILogger<VultrCallLog> logger)
{
    private VultrCallOutcome? _last;

    public VultrCallOutcome? Last => Volatile.Read(ref _last);

    public void Record(bool ok, string detail)
    {
        var previous = Interlocked.Exchange(ref _last, new VultrCallOutcome(time.GetUtcNow(), ok, detail));
        if (!ok && previous?.Detail != detail)
        {
            // A refused key needs the operator; a 5xx or a dropped connection is retried and usually passes.
            if (detail.StartsWith("Vultr answered 401", StringComparison.Ordinal) || detail.StartsWith("Vultr answered 403", StringComparison.Ordinal))
            {
                logger.LogError("Vultr refused the call: {Detail}", detail.Contains("Unauthorized IP address", StringComparison.Ordinal)
                    ? detail + " (the API key's access control does not allow this deployment's outbound address)"
                    : detail);
            }
            else
            {
                logger.LogWarning("Vultr call failed: {Detail}", detail);
            }
        }
        else if (ok && previous is { Ok: false })
        {
            logger.LogInformation("Vultr answers again");
        }
    }
}

/// <summary>
/// The cloud check of <c>/health</c>, which costs Vultr nothing per call: it reports the most recent call's outcome, and makes
/// one call of its own (shared by every health check waiting at that moment) only when none happened in the last minute.
/// </summary>
public sealed class VultrHealth(VultrCallLog recorder, VultrCloudProvider cloud, TimeProvider time)
{
    public static readonly TimeSpan Freshness = TimeSpan.FromMinutes(1);
    private readonly Lock _lock = new();
    private Task? _probe;

    public async Task<VultrCallOutcome> CheckAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (Fresh() is { } fresh)
        {
            return fresh;
        }

        Task probe;
        lock (_lock)
        {
            _probe = _probe is { IsCompleted: false } running ? running : ProbeAsync(timeout);
            probe = _probe;
        }

        try
        {
            await probe.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            // Reported below: the probe's call recorded nothing in time.
        }

        return Fresh() ?? new VultrCallOutcome(time.GetUtcNow(), false, $"Vultr did not answer within {timeout.TotalSeconds:F0} s");
    }

    private VultrCallOutcome? Fresh() => recorder.Last is { } last && time.GetUtcNow() - last.At < Freshness ? last : null;

    private async Task ProbeAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await cloud.PingAsync(cts.Token);
        }
        catch (Exception ex) when (ex is Core.Ports.CloudProviderException or OperationCanceledException)
        {
            // The recorder saw the answer (or its absence).
        }
    }
}
