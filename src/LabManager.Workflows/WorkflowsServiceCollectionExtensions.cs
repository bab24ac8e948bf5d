using LabManager.Core.Instances;
using LabManager.Core.Access;
using LabManager.Core.Ports;
using LabManager.Workflows.Instances;
using LabManager.Workflows.Pools;
using LabManager.Workflows.Reconciliation;
using LabManager.Workflows.Readiness;
using LabManager.Workflows.Sessions;
using LabManager.Workflows.Vm;
using Microsoft.DurableTask;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using LabManager.Workflows.Access;

namespace LabManager.Workflows;

/// <summary>Wires the lab-session workflow into a host.</summary>
public static class WorkflowsServiceCollectionExtensions
{
    /// <summary>Options (section <c>LabSessions</c>) and the probe's HttpClient the activities need.</summary>
    public static IServiceCollection AddLabWorkflows(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<LabSessionOptions>().Bind(configuration.GetSection(LabSessionOptions.Section))
            .PostConfigure(o =>
            {
                // On Azure App Service / Functions the app knows its own public host name: labs phone home there.
                if (string.IsNullOrEmpty(o.PhoneHomeUrl) && configuration["WEBSITE_HOSTNAME"] is { Length: > 0 } host)
                {
                    o.PhoneHomeUrl = $"https://{host}/api/labs/instances/{{instanceId}}/ready?key={{key}}";
                }
            })
            .Validate(o => o.VmWatchInterval > TimeSpan.Zero, "LabSessions:VmWatchInterval must be positive")
            .ValidateOnStart();
        services.AddOptions<AccessOptions>().Bind(configuration.GetSection(AccessOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<AccessOptions>, AccessOptionsValidation>();
        services.AddOptions<AgentOptions>().Bind(configuration.GetSection(AgentOptions.Section))
            .Validate(o => o.Interval >= TimeSpan.Zero && o.MinInterval >= TimeSpan.Zero && o.SilentIntervals >= 1 && o.ActivityBytes >= 0,
                "Agent:Interval and Agent:MinInterval must not be negative, Agent:SilentIntervals at least 1, Agent:ActivityBytes not negative")
            .ValidateOnStart();
        services.AddHttpClient(ProbeLabActivity.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false });
        services.AddSingleton<ILabSessionControl, DurableLabSessionControl>();
        services.AddSingleton<IReconciler, Reconciler>();
        services.AddSingleton<VmWatch>();
        services.AddSingleton<LabMetrics>();
        services.TryAddSingleton(TimeProvider.System);

        // Activities are also resolved directly by hosts that wrap them (the Functions app).
        services.AddTransient<CreateVmActivity>();
        services.AddTransient<GetVmActivity>();
        services.AddTransient<DestroyVmActivity>();
        services.AddTransient<RebootVmActivity>();
        services.AddTransient<ProbeLabActivity>();
        services.AddTransient<UpdateInstanceActivity>();
        services.AddTransient<RecordProgressActivity>();
        services.AddTransient<NotifyExpiryActivity>();
        services.AddTransient<NotifyHealthActivity>();
        services.AddTransient<EnsureFirewallActivity>();
        services.AddTransient<DeleteFirewallActivity>();
        services.AddTransient<CheckIdleActivity>();
        services.AddTransient<KeepPoolActivity>();
        services.AddTransient<RetirePooledActivity>();
        return services;
    }

    /// <summary>Says which setting is wrong and why, at start.</summary>
    private sealed class AccessOptionsValidation : IValidateOptions<AccessOptions>
    {
        public ValidateOptionsResult Validate(string? name, AccessOptions options) =>
            options.Validate() is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }

    /// <summary>Registers the orchestrator and every activity with a Durable Task worker.</summary>
    public static DurableTaskRegistry AddLabWorkflows(this DurableTaskRegistry registry) => registry
        .AddOrchestrator<LabSessionOrchestrator>()
        .AddOrchestrator<PoolKeeperOrchestrator>()
        .AddActivity<KeepPoolActivity>()
        .AddActivity<RetirePooledActivity>()
        .AddActivity<CreateVmActivity>()
        .AddActivity<GetVmActivity>()
        .AddActivity<DestroyVmActivity>()
        .AddActivity<RebootVmActivity>()
        .AddActivity<ProbeLabActivity>()
        .AddActivity<UpdateInstanceActivity>()
        .AddActivity<RecordProgressActivity>()
        .AddActivity<NotifyExpiryActivity>()
        .AddActivity<NotifyHealthActivity>()
        .AddActivity<EnsureFirewallActivity>()
        .AddActivity<DeleteFirewallActivity>()
        .AddActivity<CheckIdleActivity>();
}
