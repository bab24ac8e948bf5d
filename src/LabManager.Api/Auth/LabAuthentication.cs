using System.Security.Claims;
using System.Text;
using LabManager.Api.Http;
using LabManager.Core.Realtime;
using LabManager.Core.Ports;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LabManager.Api.Auth;

/// <summary>The two authorization policies: any signed-in learner, and operators (role <c>admin</c>).</summary>
public static class LabPolicies
{
    public const string Learner = "learner";
    public const string Operator = "operator";

    /// <summary>True for a <c>role</c> or <c>roles</c> claim (OIDC providers use either) of <c>admin</c>.</summary>
    public static bool IsOperator(ClaimsPrincipal user) => user.Claims.Any(c => c.Type is "role" or "roles" && c.Value == "admin");
}

/// <summary>
/// Bearer tokens through ASP.NET Core's JwtBearer: HS256 with <c>Auth:SigningKey</c>, or RS256/ES256 with the keys of the
/// <c>Auth:Authority</c>'s JWKS (refreshed when a token names a key it does not know, so a rotation needs no restart). A token must
/// name its subject and live at most <c>Auth:MaxTokenLifetime</c>. Refusals answer the API's envelope.
/// </summary>
public static class LabAuthentication
{
    public const string Scheme = JwtBearerDefaults.AuthenticationScheme;

    public static IServiceCollection AddLabAuthentication(this IServiceCollection services)
    {
        services.AddAuthentication(Scheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(Scheme).Configure<IOptions<AuthOptions>>((jwt, auth) => Configure(jwt, auth.Value));
        services.AddAuthorizationBuilder()
            .AddPolicy(LabPolicies.Learner, p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser())
            .AddPolicy(LabPolicies.Operator, p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser().RequireAssertion(c => LabPolicies.IsOperator(c.User)));
        return services;
    }

    /// <summary>
    /// The caller of a route, or null once the answer refusing them is written: 401 without a valid token, 403 without the
    /// operator role when <paramref name="operatorOnly"/>. The token is checked before anything else of the request is read.
    /// </summary>
    public static async Task<UserRef?> AuthenticateAsync(HttpContext http, bool operatorOnly = false)
    {
        var result = await http.AuthenticateAsync(Scheme);
        if (!result.Succeeded)
        {
            await http.ChallengeAsync(Scheme);
            return null;
        }

        http.User = result.Principal;
        var policy = operatorOnly ? LabPolicies.Operator : LabPolicies.Learner;
        if (!(await http.RequestServices.GetRequiredService<IAuthorizationService>().AuthorizeAsync(result.Principal, policy)).Succeeded)
        {
            await http.ForbidAsync(Scheme);
            return null;
        }

        return CallerOf(result.Principal);
    }

    /// <summary>The learner a validated token names.</summary>
    public static UserRef CallerOf(ClaimsPrincipal user) => new(
        TokenService.UserIdOf(user.FindFirst(JwtRegisteredClaimNames.Sub)!.Value),
        user.FindFirst("email")?.Value,
        user.FindFirst("name")?.Value,
        LabPolicies.IsOperator(user));

    private static void Configure(JwtBearerOptions jwt, AuthOptions auth)
    {
        jwt.MapInboundClaims = false;
        jwt.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = string.IsNullOrEmpty(auth.Issuer) ? null : auth.Issuer,
            ValidAudience = auth.Audience,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = TimeSpan.FromSeconds(30),
            NameClaimType = "name",
            RoleClaimType = "role",
        };
        if (auth.Authority is { } authority)
        {
            jwt.Authority = authority.ToString();
            jwt.RequireHttpsMetadata = authority.Scheme == Uri.UriSchemeHttps;
            jwt.TokenValidationParameters.ValidAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256];
        }
        else
        {
            jwt.TokenValidationParameters.IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(auth.SigningKey!));
            jwt.TokenValidationParameters.ValidAlgorithms = [SecurityAlgorithms.HmacSha256];
        }

        jwt.Events = new JwtBearerEvents
        {
            // Browsers cannot set headers on WebSockets: the hub takes the token from the query.
            OnMessageReceived = context =>
            {
                if (context.HttpContext.Request.Path.StartsWithSegments(LabsRealtime.HubPath)
                    && context.Request.Query["access_token"].FirstOrDefault() is { Length: > 0 } token)
                {
                    context.Token = token;
                }

                return Task.CompletedTask;
            },
            OnTokenValidated = context =>
            {
                var token = (JsonWebToken)context.SecurityToken;
                var from = token.IssuedAt != DateTime.MinValue ? token.IssuedAt : token.ValidFrom;
                if (string.IsNullOrEmpty(token.Subject))
                {
                    context.Fail("The token has no subject");
                }
                else if (from == DateTime.MinValue || token.ValidTo - from > auth.MaxTokenLifetime)
                {
                    context.Fail($"The token lives longer than {auth.MaxTokenLifetime.TotalHours:0.#} h");
                }

                return Task.CompletedTask;
            },
            OnChallenge = async context =>
            {
                context.HandleResponse();
                var message = context.AuthenticateFailure switch
                {
                    null => "A bearer token is required",
                    SecurityTokenExpiredException => "The token has expired",
                    { Message: var reason } when reason.StartsWith("The token ", StringComparison.Ordinal) => reason,
                    _ => "The token is not valid",
                };
                await ApiHttp.WriteAsync(context.HttpContext, ApiResult.Unauthorized(message));
            },
            OnForbidden = context => ApiHttp.WriteAsync(context.HttpContext, ApiResult.Forbidden()),
        };
    }
}
