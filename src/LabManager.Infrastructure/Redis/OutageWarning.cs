namespace LabManager.Infrastructure.Redis;

/// <summary>While Redis is out, one warning per 30 s from each user of it: an outage should be visible in the logs, not flood them.</summary>
internal sealed class OutageWarning
{
    private long _last;

    /// <summary>True when this call should log: the first time, then once 30 s have passed since the last logged one.</summary>
    public bool Due()
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _last);
        return now - last > 30_000 && Interlocked.CompareExchange(ref _last, now, last) == last;
    }
}
