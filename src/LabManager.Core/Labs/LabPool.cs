namespace LabManager.Core.Labs;

/// <summary>
/// A lab's warm pool: <see cref="Min"/> VMs kept booted with the lab answering, never more than <see cref="Max"/> (claimed ones not
/// counted), each replaced once older than <see cref="MaxAgeMinutes"/>. A start takes a ready one instead of waiting for a boot.
/// </summary>
public sealed record LabPool(int Min, int Max, int MaxAgeMinutes = 240)
{
    /// <summary>The owner of pooled instances until a learner claims one; never a learner.</summary>
    public static readonly Guid Owner = new("00000000-0000-0000-0000-00000000900f");

    /// <summary>The keeper workflow of <paramref name="labId"/>'s pool: one per lab, under this fixed id.</summary>
    public static string KeeperId(Guid labId) => $"pool-{labId:N}";

    public TimeSpan MaxAge => TimeSpan.FromMinutes(MaxAgeMinutes);

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

        return problems;
    }
}
