using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace LabManager.VultrEmulator;

/// <summary>
/// Builds and runs the emulator: as a program (<c>dotnet run --project src/LabManager.VultrEmulator -- --urls http://127.0.0.1:PORT</c>)
/// or in-process from tests and the Server (<see cref="StartAsync"/>).
/// </summary>
public sealed class VultrEmulatorApp : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly EmulatorAdminClient _admin;

    private VultrEmulatorApp(WebApplication app, Uri root)
    {
        _app = app;
        Root = root;
        _admin = new EmulatorAdminClient(root);
    }

    /// <summary>The API key the emulator accepts.</summary>
    public string ApiKey => _app.Services.GetRequiredService<Cloud>().Options.ApiKey;

    /// <summary>Live VMs and counters, through <c>GET /admin/inspect</c>.</summary>
    public Task<Inspection> InspectAsync(CancellationToken cancellationToken = default) => _admin.InspectAsync(cancellationToken);

    /// <summary>Replaces the injected faults, through <c>PUT /admin/faults</c>.</summary>
    public Task SetFaultsAsync(FaultSettings faults, CancellationToken cancellationToken = default) => _admin.SetFaultsAsync(faults, cancellationToken);

    /// <summary>Removes a VM whatever its state, through <c>DELETE /admin/vms/{id}</c>.</summary>
    public Task RemoveAsync(string vmId, CancellationToken cancellationToken = default) => _admin.RemoveAsync(vmId, cancellationToken);

    /// <summary>Makes the lab inside a VM stop answering, as if its containers died; a reboot brings it back.</summary>
    public Task CrashLabAsync(string vmId, CancellationToken cancellationToken = default) => _admin.CrashLabAsync(vmId, cancellationToken);

    /// <summary>Makes one of the VM's containers exit (see <see cref="EmulatorAdminClient.ExitContainerAsync"/>).</summary>
    public Task ExitContainerAsync(string vmId, string name, bool keepsFailing = false, CancellationToken cancellationToken = default) =>
        _admin.ExitContainerAsync(vmId, name, keepsFailing, cancellationToken);

    /// <summary>Silences the VM's agent, or lets it speak again.</summary>
    public Task SilenceAgentAsync(string vmId, bool silent = true, CancellationToken cancellationToken = default) => _admin.SilenceAgentAsync(vmId, silent, cancellationToken);

    /// <summary>The emulator's root, e.g. <c>http://127.0.0.1:5123/</c>.</summary>
    public Uri Root { get; }

    /// <summary>The Vultr API base URL to give clients, e.g. <c>http://127.0.0.1:5123/v2/</c>.</summary>
    public Uri ApiBase => new(Root, "v2/");

    /// <summary>Where the emulator listens when no <c>--urls</c> is given.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5090";

    /// <summary>Builds the app from command-line arguments and configuration (section <c>Emulator</c>).</summary>
    public static WebApplication Build(string[] args, Action<EmulatorOptions>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        // The profile first, so that a timing named beside it wins.
        var section = builder.Configuration.GetSection("Emulator");
        builder.Services.AddOptions<EmulatorOptions>().Configure(o => o.ApplyProfile(section["Profile"])).Bind(section).Configure(o => configure?.Invoke(o))
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<Cloud>();
        builder.Services.AddSingleton<LabApps>();
        builder.Services.AddHostedService<LabAppTicker>();
        builder.Services.AddHttpClient();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        var app = builder.Build();
        app.UseMiddleware<EmulatorMiddleware>();
        VultrApi.Map(app);
        AdminApi.Map(app);
        app.MapGet("/", () => "LabManager Vultr API v2 emulator. API under /v2, faults at /admin/faults, state at /admin/inspect.");
        return app;
    }

    /// <summary>Starts an emulator on a free loopback port.</summary>
    public static async Task<VultrEmulatorApp> StartAsync(Action<EmulatorOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        var app = Build(["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "Warning"], configure);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new VultrEmulatorApp(app, new Uri(address.TrimEnd('/') + "/"));
    }

    public async ValueTask DisposeAsync()
    {
        _admin.Dispose();
        await _app.StopAsync();
        await _app.Services.GetRequiredService<LabApps>().DisposeAsync();
        await _app.DisposeAsync();
    }
}
