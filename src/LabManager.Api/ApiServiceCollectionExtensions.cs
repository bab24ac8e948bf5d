using System.Text.Json;
using System.Text.Json.Serialization;
using LabManager.Api.Auth;
using LabManager.Api.Labs;
using LabManager.Core.Labs;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LabManager.Api;

/// <summary>Wires the API's handlers, token validation and options (validated at start).</summary>
public static class ApiServiceCollectionExtensions
{
    public static IServiceCollection AddLabApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ApiOptions>().Bind(configuration.GetSection(ApiOptions.Section))
            .Configure(o =>
            {
                // The seed's environment variable names still work.
                if (int.TryParse(configuration["MAX_CONTAINERS_PER_USER"], out var perUser))
                {
                    o.MaxContainersPerUser = perUser;
                }

                if (int.TryParse(configuration["MAX_GLOBAL_INSTANCES"], out var global))
                {
                    o.MaxGlobalInstances = global;
                }
            })
            .ValidateDataAnnotations()
            .Validate(o => o.AllowedOrigins.All(IsOrigin), "Api:AllowedOrigins entries must be origins such as https://academy.example.com (scheme, host, optional port; no path, no trailing slash)")
            .ValidateOnStart();
        services.AddOptions<AuthOptions>().Bind(configuration.GetSection(AuthOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<TokenService>();
        services.AddLabAuthentication();
        // The framework writes (and the OpenAPI document describes) JSON as the API answers it: enums as lower-case strings.
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        });
        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<ApiOptions>>((cors, api) => cors.AddDefaultPolicy(policy => policy
            .WithOrigins(api.Value.AllowedOrigins)
            .WithMethods("GET", "POST")
            .WithHeaders("Authorization", "Content-Type", "X-Requested-With", "X-SignalR-User-Agent")
            .WithExposedHeaders("Retry-After", "WWW-Authenticate")
            .SetPreflightMaxAge(TimeSpan.FromHours(1))));
        services.AddSingleton<LabsApi>();
        services.AddSingleton<InstancesApi>();
        services.AddSingleton<AdminApi>();
        services.AddSingleton<CatalogApi>();
        services.AddSingleton<PoolKeepers>();
        services.AddSingleton<AgentWatch>();
        services.AddSingleton<ProgressApi>();
        services.AddSingleton<IAnswerChecker, KeywordsChecker>();
        return services;
    }

    /// <summary>An origin as browsers send it: <c>scheme://host[:port]</c>, nothing after.</summary>
    private static bool IsOrigin(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && value == uri.GetLeftPart(UriPartial.Authority);

    private sealed class AuthOptionsValidator : IValidateOptions<AuthOptions>
    {
        public ValidateOptionsResult Validate(string? name, AuthOptions options) =>
            options.Validate() is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
