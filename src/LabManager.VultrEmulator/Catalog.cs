namespace LabManager.VultrEmulator;

/// <summary>The plans and regions the emulated account offers (a subset of Vultr's, prices from 2025-12).</summary>
internal static class Catalog
{
    public sealed record Plan(string Id, int VcpuCount, int Ram, int Disk, int Bandwidth, decimal MonthlyCost, decimal HourlyCost, IReadOnlyList<string> Locations);

    public sealed record Os(int Id, string Name, string Arch, string Family);

    /// <summary>A marketplace image (booted with <c>image_id</c>) or a one-click application (<c>app_id</c>).</summary>
    public sealed record Application(int Id, string Name, string ShortName, string DeployName, string Type, string Vendor, string ImageId);

    public sealed record Region(string Id, string City, string Country, string Continent);

    private static readonly string[] Everywhere = ["ewr", "ord", "dfw", "sea", "lax", "atl", "sjc", "ams", "lhr", "fra"];

    /// <summary>The plans; the largest is not sold everywhere, so a plan refused in a region can be tried.</summary>
    public static readonly IReadOnlyList<Plan> Plans =
    [
        new("vc2-1c-1gb", 1, 1024, 25, 1024, 5m, 0.007m, Everywhere),
        new("vc2-2c-4gb", 2, 4096, 80, 3072, 20m, 0.027m, Everywhere),
        new("vc2-4c-8gb", 4, 8192, 160, 4096, 40m, 0.055m, ["ewr", "ord", "dfw", "lax", "ams", "fra"]),
    ];

    public static readonly IReadOnlyList<Os> OperatingSystems =
    [
        new(1743, "Ubuntu 22.04 LTS x64", "x64", "ubuntu"),
        new(2136, "Debian 12 x64 (bookworm)", "x64", "debian"),
        new(2284, "Ubuntu 24.04 LTS x64", "x64", "ubuntu"),
        new(477, "Debian 11 x64 (bullseye)", "x64", "debian"),
        new(159, "Custom", "x64", "iso"),
        new(164, "Snapshot", "x64", "snapshot"),
        new(186, "Application", "x64", "application"),
    ];

    /// <summary>Marketplace images (Docker has Docker preinstalled) and one-click applications.</summary>
    public static readonly IReadOnlyList<Application> Applications =
    [
        new(37, "Docker on Ubuntu 22.04", "docker", "Docker on Ubuntu 22.04 x64", "marketplace", "vultr", "docker"),
        new(50, "WordPress", "wordpress", "WordPress on Ubuntu 22.04 x64", "one-click", "vultr", ""),
    ];

    /// <summary>Snapshots in the emulated account: none, so any snapshot_id is refused as Vultr refuses an unknown one.</summary>
    public static readonly IReadOnlyList<string> SnapshotIds = [];

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


}
