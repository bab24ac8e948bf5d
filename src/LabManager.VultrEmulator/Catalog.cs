namespace LabManager.VultrEmulator;

/// <summary>The plans and regions the emulated account offers (a subset of Vultr's, prices from 2025-12).</summary>
internal static class Catalog
{
    public sealed record Plan(string Id, int VcpuCount, int Ram, int Disk, int Bandwidth, decimal MonthlyCost, decimal HourlyCost);

    public sealed record Region(string Id, string City, string Country, string Continent);

    public static readonly IReadOnlyList<Plan> Plans =
    [
        new("vc2-1c-1gb", 1, 1024, 25, 1024, 5m, 0.007m),
        new("vc2-2c-4gb", 2, 4096, 80, 3072, 20m, 0.027m),
        new("vc2-4c-8gb", 4, 8192, 160, 4096, 40m, 0.055m),
    ];

    public static readonly IReadOnlyList<Region> Regions =
    [
        new("ewr", "New Jersey", "US", "North America"),
        new("ord", "Chicago", "US", "North America"),
        new("dfw", "Dallas", "US", "North America"),
        new("sea", "Seattle", "US", "North America"),
        new("lax", "Los Angeles", "US", "North America"),
        new("atl", "Atlanta", "US", "North America"),
        new("sjc", "Silicon Valley", "US", "North America"),
        new("ams", "Amsterdam", "NL", "Europe"),
        new("lhr", "London", "GB", "Europe"),
        new("fra", "Frankfurt", "DE", "Europe"),
    ];

    public static readonly IReadOnlySet<int> OsIds = new HashSet<int> { 1743, 2136, 2284, 477 };
}
