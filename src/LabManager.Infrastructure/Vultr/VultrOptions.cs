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
}
