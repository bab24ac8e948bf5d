using LabManager.Core.Instances;

namespace LabManager.Core.Costs;

/// <summary>What a lab session costs on the cloud bill.</summary>
public static class SessionCost
{
    /// <summary>Hourly prices in USD of the plans labs use (Vultr, 2025-12).</summary>
    public static readonly IReadOnlyDictionary<string, decimal> HourlyPrices = new Dictionary<string, decimal>
    {
        ["vc2-1c-1gb"] = 0.007m,
        ["vc2-2c-4gb"] = 0.027m,
        ["vc2-4c-8gb"] = 0.055m,
    };

    /// <summary>
    /// Cost of a VM that lived <paramref name="duration"/>: billing is hourly with a one-hour minimum,
    /// so every started hour is charged.
    /// </summary>
    public static decimal Compute(decimal hourlyPrice, TimeSpan duration)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(hourlyPrice);
        var hours = Math.Max(1, (long)Math.Ceiling(Math.Max(0, duration.TotalHours)));
        return hourlyPrice * hours;
    }

    /// <summary>
    /// What every VM of a session costs (each billed on its own, one hour at least), counting a VM still alive (or left undestroyed)
    /// up to <paramref name="until"/>; null when the plan's price is unknown.
    /// </summary>
    public static decimal? ForVms(string plan, IEnumerable<VmUsage> vms, DateTimeOffset until) =>
        HourlyPrices.TryGetValue(plan, out var price) ? vms.Sum(vm => Compute(price, (vm.DestroyedAt ?? until) - vm.CreatedAt)) : null;

    /// <summary>Cost for a known plan; null when the plan's price is unknown.</summary>
    public static decimal? ForPlan(string plan, TimeSpan duration) =>
        HourlyPrices.TryGetValue(plan, out var price) ? Compute(price, duration) : null;
}
