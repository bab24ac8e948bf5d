using System.ComponentModel.DataAnnotations;

namespace LabManager.Api;

/// <summary>Settings of section <c>Api</c>: quotas and bounds.</summary>
public sealed class ApiOptions
{
    public const string Section = "Api";

    /// <summary>
    /// Origins of the platform's own frontend allowed to call the API and the hub from a browser (CORS), e.g.
    /// <c>https://academy.example.com</c>. None by default; bearer tokens only, never cookies.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>What a SignalR client connects to for live status (told by <c>GET /api/features</c>); each host sets its own.</summary>
    public string? RealtimeUrl { get; set; } = LabManager.Core.Realtime.LabsRealtime.HubPath;

    /// <summary>Active instances one user may have (<c>MAX_CONTAINERS_PER_USER</c>).</summary>
    [Range(1, 1000)]
    public int MaxContainersPerUser { get; set; } = 5;

    /// <summary>Active instances in total (<c>MAX_GLOBAL_INSTANCES</c>).</summary>
    [Range(1, 100_000)]
    public int MaxGlobalInstances { get; set; } = 100;

    /// <summary>Starts one user may make per <see cref="StartWindow"/>.</summary>
    [Range(1, 10_000)]
    public int MaxStartsPerWindow { get; set; } = 10;

    public TimeSpan StartWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Shortest session a <c>timeoutOverride</c> may ask for.</summary>
    public TimeSpan MinSessionLength { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Answers one learner may submit per <see cref="SubmissionWindow"/>, across exercises.</summary>
    [Range(1, 10_000)]
    public int MaxSubmissionsPerWindow { get; set; } = 10;

    public TimeSpan SubmissionWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The extension of <c>POST …/extend</c> without a body.</summary>
    public TimeSpan DefaultExtension { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Longest single extension.</summary>
    public TimeSpan MaxExtension { get; set; } = TimeSpan.FromHours(2);

    /// <summary>Restarts and resets one learner may ask for per <see cref="RebuildWindow"/> (each costs Vultr calls, a reset a new VM).</summary>
    [Range(1, 1000)]
    public int MaxRebuildsPerWindow { get; set; } = 5;

    public TimeSpan RebuildWindow { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Extensions one learner may ask for per <see cref="ExtendWindow"/>.</summary>
    [Range(1, 1000)]
    public int MaxExtendsPerWindow { get; set; } = 10;

    public TimeSpan ExtendWindow { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Moves of a learner's lab firewall to a new address of theirs per <see cref="ReaddressWindow"/> (each costs a few Vultr calls).</summary>
    public int MaxReaddressesPerWindow { get; set; } = 10;

    public TimeSpan ReaddressWindow { get; set; } = TimeSpan.FromHours(1);
}
