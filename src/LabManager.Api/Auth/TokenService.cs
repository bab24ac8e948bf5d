using LabManager.Api.Http;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using LabManager.Core.Ports;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace LabManager.Api.Auth;

/// <summary>Validates bearer tokens (signature, issuer, audience, lifetime; unsigned tokens refused) and mints development tokens.</summary>
public sealed class TokenService
{
    private readonly AuthOptions _options;
    private readonly JsonWebTokenHandler _handler = new();
    private readonly ConfigurationManager<OpenIdConnectConfiguration>? _oidc;
    private readonly SymmetricSecurityKey? _key;
    private readonly TimeProvider _time;

    public TokenService(IOptions<AuthOptions> options, TimeProvider time)
    {
        _options = options.Value;
        _time = time;
        if (_options.SigningKey is { } secret)
        {
            _key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret));
        }

        if (_options.Authority is { } authority)
        {
            _oidc = new ConfigurationManager<OpenIdConnectConfiguration>(
                new Uri(authority, authority.AbsolutePath.TrimEnd('/') + "/.well-known/openid-configuration").ToString(),
                new OpenIdConnectConfigurationRetriever(),
                new HttpDocumentRetriever { RequireHttps = authority.Scheme == Uri.UriSchemeHttps });
        }
    }

    /// <summary>The caller named by an <c>Authorization: Bearer</c> header, or why it was refused.</summary>
    public async Task<(UserRef? User, string? Error)> ValidateAsync(string? authorization, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(authorization))
        {
            return (null, "A bearer token is required");
        }

        if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return (null, "The Authorization header must be 'Bearer <token>'");
        }

        var parameters = new TokenValidationParameters
        {
            ValidIssuer = _options.Issuer,
            ValidAudience = _options.Audience,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = TimeSpan.FromSeconds(30),
        };
        if (_oidc is not null)
        {
            var config = await _oidc.GetConfigurationAsync(cancellationToken);
            parameters.IssuerSigningKeys = config.SigningKeys;
            parameters.ValidIssuer = string.IsNullOrEmpty(_options.Issuer) ? config.Issuer : _options.Issuer;
            parameters.ValidAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256];
        }
        else
        {
            parameters.IssuerSigningKey = _key;
            parameters.ValidAlgorithms = [SecurityAlgorithms.HmacSha256];
        }

        var result = await _handler.ValidateTokenAsync(authorization["Bearer ".Length..].Trim(), parameters);
        if (!result.IsValid)
        {
            return (null, result.Exception is SecurityTokenExpiredException ? "The token has expired" : "The token is not valid");
        }

        var claims = result.ClaimsIdentity;
        var subject = claims.FindFirst(JwtRegisteredClaimNames.Sub)?.Value ?? claims.FindFirst(ClaimTypes.NameIdentifier)?.Value;
        if (string.IsNullOrEmpty(subject))
        {
            return (null, "The token has no subject");
        }

        var isAdmin = claims.Claims.Any(c => c.Type is "role" or "roles" or ClaimTypes.Role && c.Value == "admin");
        return (new UserRef(UserIdOf(subject), claims.FindFirst("email")?.Value, claims.FindFirst("name")?.Value, isAdmin), null);
    }

    /// <summary>The caller of a route, or the answer that refuses them: 401 without a valid token, 403 without the admin role when needed.</summary>
    public async Task<(UserRef? User, ApiResult? Denied)> AuthenticateAsync(ApiRequest request, CancellationToken ct, bool admin = false)
    {
        var (user, error) = await ValidateAsync(request.Authorization, ct);
        if (user is null)
        {
            return (null, ApiResult.Unauthorized(error!));
        }

        return admin && !user.IsAdmin ? (user, ApiResult.Forbidden()) : (user, null);
    }

    /// <summary>A signed HS256 token for development; needs <see cref="AuthOptions.SigningKey"/>.</summary>
    public string MintDevToken(Guid userId, string? name, bool admin, TimeSpan lifetime)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        var claims = new Dictionary<string, object> { ["sub"] = userId.ToString(), ["role"] = admin ? "admin" : "user" };
        if (name is not null)
        {
            claims["name"] = name;
        }

        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = _options.Issuer,
            Audience = _options.Audience,
            Claims = claims,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            SigningCredentials = new SigningCredentials(_key ?? throw new InvalidOperationException("Auth:SigningKey is not set"), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>A UUID subject is the user id; any other subject (from an OIDC provider) maps to a stable UUID.</summary>
    public static Guid UserIdOf(string subject) =>
        Guid.TryParse(subject, out var id) ? id : new Guid(SHA256.HashData(Encoding.UTF8.GetBytes(subject)).AsSpan(0, 16));
}
