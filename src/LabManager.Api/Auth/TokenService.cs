using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LabManager.Api.Auth;

/// <summary>Mints development tokens (validation is JwtBearer's, see <see cref="LabAuthentication"/>) and maps subjects to user ids.</summary>
public sealed class TokenService(IOptions<AuthOptions> options, TimeProvider time)
{
    private readonly JsonWebTokenHandler _handler = new();

    /// <summary>A signed HS256 token for development; needs <see cref="AuthOptions.SigningKey"/>.</summary>
    public string MintDevToken(Guid userId, string? name, bool admin, TimeSpan lifetime)
    {
        var auth = options.Value;
        var now = time.GetUtcNow().UtcDateTime;
        var claims = new Dictionary<string, object> { ["sub"] = userId.ToString(), ["role"] = admin ? "admin" : "user" };
        if (name is not null)
        {
            claims["name"] = name;
        }

        var key = auth.SigningKey ?? throw new InvalidOperationException("Auth:SigningKey is not set");
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = auth.Issuer,
            Audience = auth.Audience,
            Claims = claims,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>A UUID subject is the user id; any other subject (from an OIDC provider) maps to a stable UUID.</summary>
    public static Guid UserIdOf(string subject) =>
        Guid.TryParse(subject, out var id) ? id : new Guid(SHA256.HashData(Encoding.UTF8.GetBytes(subject)).AsSpan(0, 16));
}
