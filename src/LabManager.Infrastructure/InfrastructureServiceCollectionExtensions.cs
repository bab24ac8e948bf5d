using System.Net.Http.Headers;
using System.Text.Json;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using LabManager.Core.Realtime;
using LabManager.Infrastructure.Notifications;
using LabManager.Infrastructure.Postgres;
using LabManager.Infrastructure.Redis;
using LabManager.Infrastructure.Tutor;
using Microsoft.Extensions.Logging;
using LabManager.Infrastructure.Vultr;
using Npgsql;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Refit;

namespace LabManager.Infrastructure;

/// <summary>Wires the adapters to Core's ports.</summary>
public static class InfrastructureServiceCollectionExtensions
{
    /// <summary>
    /// PostgreSQL behind the instance store, the lab catalog and the learning tracker (<c>ConnectionStrings:Postgres</c>);
    /// migrations and the catalog file (<c>Catalog:File</c>) are applied at start-up.
    /// </summary>
    public static IServiceCollection AddPostgres(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PostgresOptions>()
            .Configure(o =>
            {
                o.ConnectionString = configuration.GetConnectionString("Postgres") ?? "";
            })
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddOptions<CatalogOptions>()
            .Bind(configuration.GetSection("Catalog"))
            .Validate(o => o.Mode is CatalogMode.File or CatalogMode.Merge, "Catalog:Mode must be file or merge")
            .Validate(o => o.Mode != CatalogMode.File || !string.IsNullOrEmpty(o.File), "Catalog:Mode=file needs Catalog:File")
            .ValidateOnStart();
        Dapper.DefaultTypeMap.MatchNamesWithUnderscores = true;
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => NpgsqlDataSource.Create(sp.GetRequiredService<IOptions<PostgresOptions>>().Value.ConnectionString));
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<VultrOptions>>().Value switch { var v => new LabDefaults(v.DefaultRegion, v.DefaultPlan) });
        services.AddSingleton<PostgresLabCatalog>();
        services.AddSingleton<ILabCatalog>(sp => sp.GetRequiredService<PostgresLabCatalog>());
        services.AddSingleton<ILabCatalogStore>(sp => sp.GetRequiredService<PostgresLabCatalog>());
        services.AddSingleton<PostgresInstanceStore>();
        services.AddSingleton<IInstanceStore>(sp => sp.GetRequiredService<PostgresInstanceStore>());
        services.AddSingleton<IPoolStore>(sp => sp.GetRequiredService<PostgresInstanceStore>());
        services.AddSingleton<PostgresLearningTracker>();
        services.AddSingleton<ILearningTracker>(sp => sp.GetRequiredService<PostgresLearningTracker>());
        services.AddSingleton<ILearningProgress>(sp => sp.GetRequiredService<PostgresLearningTracker>());
        services.AddSingleton<IReconciliationLog, PostgresReconciliationLog>();
        services.AddSingleton<ILabHealthStore, PostgresLabHealthStore>();
        services.AddHostedService<DatabaseInitializer>();
        return services;
    }

    /// <summary>
    /// The Redis cache in front of the instance store and the catalog, when <c>ConnectionStrings:Redis</c> is set
    /// (call after <see cref="AddPostgres"/>). Without it, nothing changes.
    /// </summary>
    public static IServiceCollection AddRedisCache(this IServiceCollection services, IConfiguration configuration)
    {
        if (configuration.GetConnectionString("Redis") is not { Length: > 0 } redis)
        {
            return services;
        }

        services.AddSingleton(_ => RedisCache.Connect(redis));
        services.AddSingleton<IInstanceCache>(sp => new RedisCache(sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>(), sp.GetRequiredService<ILogger<RedisCache>>()));
        services.AddSingleton<IInstanceStore>(sp => new CachedInstanceStore(sp.GetRequiredService<PostgresInstanceStore>(), sp.GetRequiredService<IInstanceCache>()));
        services.AddSingleton<ILabCatalog>(sp => new CachedLabCatalog(sp.GetRequiredService<PostgresLabCatalog>(), sp.GetRequiredService<IInstanceCache>()));
        services.AddSingleton<ILabCatalogStore>(sp => new CachedLabCatalogStore(sp.GetRequiredService<PostgresLabCatalog>(), sp.GetRequiredService<IInstanceCache>()));
        services.AddSingleton<IPoolStore>(sp => new CachedPoolStore(sp.GetRequiredService<PostgresInstanceStore>(), sp.GetRequiredService<IInstanceCache>()));
        return services;
    }

    /// <summary>
    /// The notifier through Azure SignalR Service when <c>ConnectionStrings:AzureSignalR</c> is set (the Functions app);
    /// otherwise the log. Returns the parsed connection, or null.
    /// </summary>
    public static AzureSignalRConnection? AddAzureSignalRNotifier(this IServiceCollection services, IConfiguration configuration)
    {
        if (configuration.GetConnectionString("AzureSignalR") is not { Length: > 0 } connectionString)
        {
            services.AddSingleton<INotifier, LoggingNotifier>();
            return null;
        }

        var connection = AzureSignalRConnection.Parse(connectionString);
        services.AddSingleton(connection);
        services.AddTransient(_ => new AzureSignalRAuthHandler(connection));
        services.AddRefitGeneratedClient<IAzureSignalRApi>(new RefitSettings(new SystemTextJsonContentSerializer(new JsonSerializerOptions(JsonSerializerDefaults.Web))))
            .ConfigureHttpClient(c => c.BaseAddress = connection.Endpoint)
            .AddHttpMessageHandler<AzureSignalRAuthHandler>();
        services.AddSingleton<ILabsClient, AzureSignalRLabsClient>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<INotifier, RealtimeNotifier>();
        return connection;
    }

    /// <summary>
    /// The AI tutor on the provider <c>Tutor:Provider</c> names (section <c>Tutor</c>, validated at start); with none it reports
    /// itself disabled.
    /// </summary>
    public static IServiceCollection AddTutor(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TutorOptions>().Bind(configuration.GetSection(TutorOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TutorOptions>, TutorOptionsValidation>();
        services.AddHttpClient(ChatTutor.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan);
        services.AddSingleton<ITutor, ChatTutor>();
        return services;
    }

    /// <summary>
    /// The Vultr cloud provider, configured from section <c>Vultr</c> (validated at start; the seed's <c>VULTR_DEFAULT_REGION</c>,
    /// <c>VULTR_DEFAULT_PLAN</c> and <c>VULTR_DEFAULT_IMAGE</c> are read too). Its request budget is shared through Redis when
    /// <see cref="AddRedisCache"/> configured one.
    /// </summary>
    public static IServiceCollection AddVultrCloudProvider(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<VultrOptions>()
            .Configure(o =>
            {
                o.DefaultRegion = configuration["VULTR_DEFAULT_REGION"] is { Length: > 0 } region ? region : o.DefaultRegion;
                o.DefaultPlan = configuration["VULTR_DEFAULT_PLAN"] is { Length: > 0 } plan ? plan : o.DefaultPlan;
                o.DefaultImage = configuration["VULTR_DEFAULT_IMAGE"] is { Length: > 0 } image ? image : o.DefaultImage;
            })
            .Bind(configuration.GetSection(VultrOptions.Section))
            .Validate(o => Core.Ports.BootImage.Parse(o.DefaultImage).IsValid, "Vultr:DefaultImage must be an os_id, an image_id or snapshot:<id>")
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new VultrRateLimiter(
            sp.GetRequiredService<IOptions<VultrOptions>>().Value, sp.GetService<StackExchange.Redis.IConnectionMultiplexer>(), sp.GetRequiredService<ILogger<VultrRateLimiter>>()));
        services.AddSingleton<VultrCallLog>();
        services.AddTransient<VultrCallRecorder>();
        services.AddSingleton<VultrHealth>();
        var refit = new RefitSettings(new SystemTextJsonContentSerializer(new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        }));
        services.AddRefitGeneratedClient<IVultrApi>(refit)
            .ConfigureHttpClient((sp, client) =>
            {
                var o = sp.GetRequiredService<IOptions<VultrOptions>>().Value;
                client.BaseAddress = new Uri(o.BaseUrl.ToString().TrimEnd('/'));
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", o.ApiKey);
                client.Timeout = TimeSpan.FromMinutes(3);
            })
            .AddHttpMessageHandler<VultrCallRecorder>()
            .AddResilienceHandler("vultr", (builder, context) => VultrHttpPipeline.Configure(
                builder,
                context.ServiceProvider.GetRequiredService<IOptions<VultrOptions>>().Value,
                context.ServiceProvider.GetRequiredService<VultrRateLimiter>()));
        services.AddSingleton<VultrCloudProvider>();
        services.AddSingleton<ICloudProvider>(sp => sp.GetRequiredService<VultrCloudProvider>());
        return services;
    }

    private sealed class TutorOptionsValidation : IValidateOptions<TutorOptions>
    {
        public ValidateOptionsResult Validate(string? name, TutorOptions options) =>
            options.Validate() is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
