using LabManager.Core.Ports;
using LabManager.Workflows.Instances;
using LabManager.Workflows.Readiness;
using LabManager.Workflows.Sessions;
using LabManager.Workflows.Vm;
using Microsoft.DurableTask;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.Workflows;

/// <summary>Wires the lab-session workflow into a host.</summary>
public static class WorkflowsServiceCollectionExtensions
{
    /// <summary>Options (section <c>LabSessions</c>) and the probe's HttpClient the activities need.</summary>
    public static IServiceCollection AddLabWorkflows(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<LabSessionOptions>().Bind(configuration.GetSection(LabSessionOptions.Section)).ValidateOnStart();
        services.AddHttpClient(ProbeLabActivity.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false });
        services.AddSingleton<ILabSessionControl, DurableLabSessionControl>();
        return services;
    }

    /// <summary>Registers the orchestrator and every activity with a Durable Task worker.</summary>
    public static DurableTaskRegistry AddLabWorkflows(this DurableTaskRegistry registry) => registry
        .AddOrchestrator<LabSessionOrchestrator>()
        .AddActivity<CreateVmActivity>()
        .AddActivity<GetVmActivity>()
        .AddActivity<DestroyVmActivity>()
        .AddActivity<RebootVmActivity>()
        .AddActivity<ReinstallVmActivity>()
        .AddActivity<ProbeLabActivity>()
        .AddActivity<UpdateInstanceActivity>()
        .AddActivity<RecordProgressActivity>();
}
