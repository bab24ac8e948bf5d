namespace LabManager.Core.Labs;

/// <summary>
/// A lab's warm pool: <see cref="Min"/> VMs kept booted with the lab answering, never more than <see cref="Max"/> (claimed ones not
/// counted), each replaced once older than <see cref="MaxAgeMinutes"/>. A start takes a ready one instead of waiting for a boot.
/// </summary>
public sealed record LabPool(int Min, int Max, int MaxAgeMinutes = LabPool.DefaultMaxAgeMinutes)
{
    public const int DefaultMaxAgeMinutes = 240;

    /// <summary>No pool: nothing kept.</summary>
    public static readonly LabPool None = new(0, 0);

    /// <summary>Classes asked for: <see cref="PoolWarmUp.Count"/> ready at <see cref="PoolWarmUp.At"/>, kept until <see cref="PoolWarmUp.Until"/>.</summary>
    public IReadOnlyList<PoolWarmUp> WarmUps { get; init; } = [];

    /// <summary>
    /// How many VMs the pool wants ready now: <see cref="Min"/>, or more for a warm-up that begins within <paramref name="lead"/> (the
    /// time a VM takes to be ready) and has not ended; never more than <see cref="Max"/>.
    /// </summary>
    public int WantedAt(DateTimeOffset now, TimeSpan lead) =>
        Math.Min(Max, Math.Max(Min, WarmUps.Where(w => w.At - lead <= now && now < w.Until).Select(w => w.Count).DefaultIfEmpty(0).Max()));

    /// <summary>The next moment the wanted count changes after <paramref name="now"/>, or null.</summary>
    public DateTimeOffset? NextChange(DateTimeOffset now, TimeSpan lead) =>
        WarmUps.SelectMany(w => new[] { w.At - lead, w.Until }).Where(t => t > now).Order().Cast<DateTimeOffset?>().FirstOrDefault();

    /// <summary>The owner of pooled instances until a learner claims one; never a learner.</summary>
    public static readonly Guid Owner = new("00000000-0000-0000-0000-00000000900f");

    /// <summary>The keeper workflow of <paramref name="labId"/>'s pool: one per lab, under this fixed id.</summary>
    public static string KeeperId(Guid labId) => $"pool-{labId:N}";

    public TimeSpan MaxAge => TimeSpan.FromMinutes(MaxAgeMinutes);

    public bool Equals(LabPool? other) =>
        other is not null && (Min, Max, MaxAgeMinutes) == (other.Min, other.Max, other.MaxAgeMinutes) && WarmUps.SequenceEqual(other.WarmUps);

    public override int GetHashCode() => HashCode.Combine(Min, Max, MaxAgeMinutes, WarmUps.Count);

    /// <summary>What is wrong with these settings, each naming its field; empty when they are right.</summary>
    public IReadOnlyList<string> Problems(int globalQuota)
    {
        var problems = new List<string>();
        if (Min < 0)
        {
            problems.Add("min must be 0 or more");
        }

        if (Max < Min)
        {
            problems.Add("max must be at least min");
        }

        if (Max > globalQuota)
        {
            problems.Add($"max must be at most the global quota of {globalQuota} instances");
        }

        if (MaxAgeMinutes is < 5 or > 24 * 60)
        {
            problems.Add("maxAgeMinutes must be between 5 and 1440");
        }

        for (var i = 0; i < WarmUps.Count; i++)
        {
            var w = WarmUps[i];
            if (w.Count < 1 || w.Count > Max)
            {
                problems.Add($"warmUps[{i}].count must be from 1 to max");
            }

            if (w.Until <= w.At)
            {
                problems.Add($"warmUps[{i}].until must be after its at");
            }
        }

        if (WarmUps.Count > 20)
        {
            problems.Add("warmUps may hold at most 20 entries");
        }

        return problems;
    }
}

/// <summary>A class's warm-up: <see cref="Count"/> VMs ready at <see cref="At"/>, drained after <see cref="Until"/>.</summary>
public sealed record PoolWarmUp(DateTimeOffset At, int Count, DateTimeOffset Until);
