using System.ComponentModel.DataAnnotations;

namespace LabManager.Infrastructure.Vultr;

/// <summary>Settings of section <c>Vultr</c>.</summary>
public sealed class VultrOptions
{
    public const string Section = "Vultr";

    /// <summary>API base URL; the Vultr emulator's <c>/v2</c> locally.</summary>
    [Required]
    public Uri BaseUrl { get; set; } = new("https://api.vultr.com/v2");

    /// <summary>Personal access token (Vultr:ApiKey). Never logged.</summary>
    [Required(ErrorMessage = "Vultr:ApiKey is required")]
    public string ApiKey { get; set; } = "";

    /// <summary>
    /// Client-side limit; Vultr answers 429 above 30 requests/s. The default leaves headroom for calls that a busy machine
    /// or the network delays and delivers bunched.
    /// </summary>
    [Range(1, 30)]
    public int MaxRequestsPerSecond { get; set; } = 20;

    /// <summary>Retries of a 429, 5xx or network failure before the call fails.</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 6;

    /// <summary>Instances per page when listing (Vultr allows up to 500).</summary>
    [Range(1, 500)]
    public int PageSize { get; set; } = 500;

    /// <summary>First retry delay; later ones grow exponentially, with jitter.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How many app instances share this deployment's outbound IP, and so Vultr's per-IP limit. With Redis the budget is shared
    /// exactly; while Redis is unreachable each process keeps to <see cref="MaxRequestsPerSecond"/> / <see cref="Replicas"/>.
    /// </summary>
    [Range(1, 1000)]
    public int Replicas { get; set; } = 1;

    /// <summary>Region of labs that name none (<c>VULTR_DEFAULT_REGION</c>).</summary>
    [Required]
    public string DefaultRegion { get; set; } = "ewr";

    /// <summary>Plan of labs that name none (<c>VULTR_DEFAULT_PLAN</c>).</summary>
    [Required]
    public string DefaultPlan { get; set; } = "vc2-1c-1gb";

    /// <summary>
    /// What labs that name no image boot from (<c>VULTR_DEFAULT_IMAGE</c>): an os_id (<c>1743</c>, Ubuntu 22.04), a marketplace
    /// image_id (<c>docker</c>: Docker preinstalled, so cloud-init skips installing it) or <c>snapshot:&lt;id&gt;</c>.
    /// </summary>
    [Required]
    public string DefaultImage { get; set; } = "1743";
}
