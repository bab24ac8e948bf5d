using LabManager.Api;
using LabManager.Infrastructure;
using LabManager.Workflows;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.Hosting;

/// <summary>The one wiring point of both hosts; what differs (durable engine, realtime transport, the sweep's trigger) stays in each host.</summary>
public static class LabManagerServiceCollectionExtensions
{
    public static IServiceCollection AddLabManager(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddPostgres(configuration);
        services.AddRedisCache(configuration);
        services.AddVultrCloudProvider(configuration);
        services.AddTutor(configuration);
        services.AddLabWorkflows(configuration);
        services.AddLabApi(configuration);
        services.AddLabHealthChecks(configuration);
        return services;
    }
}
