namespace LabManager.Api.Auth;

/// <summary>Settings of section <c>Auth</c>: HS256 with a shared secret, or an OIDC authority (issuer + JWKS).</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>Expected <c>iss</c>. With an authority, its discovery document's issuer is used when this is empty.</summary>
    public string Issuer { get; set; } = "labmanager";

    /// <summary>Expected <c>aud</c>.</summary>
    public string Audience { get; set; } = "labmanager-api";

    /// <summary>HS256 secret (at least 32 bytes). Used when no <see cref="Authority"/> is set.</summary>
    public string? SigningKey { get; set; }

    /// <summary>OIDC authority, e.g. <c>https://login.example.com/realm</c>; keys come from its JWKS.</summary>
    public Uri? Authority { get; set; }

    /// <summary>Longest lifetime (expiry minus issue time) a token may have; a longer-lived token is refused.</summary>
    public TimeSpan MaxTokenLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Enables <c>POST /api/dev/token</c>, which mints tokens with the signing key. Development only.</summary>
    public bool DevTokens { get; set; }

    /// <summary>Problems that stop the API from starting; empty when the settings are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Authority is null && (SigningKey is null || System.Text.Encoding.UTF8.GetByteCount(SigningKey) < 32))
        {
            errors.Add("Auth:SigningKey must be at least 32 bytes when Auth:Authority is not set");
        }

        if (DevTokens && SigningKey is null)
        {
            errors.Add("Auth:DevTokens needs Auth:SigningKey");
        }

        if (MaxTokenLifetime <= TimeSpan.Zero)
        {
            errors.Add("Auth:MaxTokenLifetime must be positive");
        }

        if (string.IsNullOrWhiteSpace(Audience))
        {
            errors.Add("Auth:Audience is required");
        }

        return errors;
    }
}
