namespace LabManager.VultrEmulator;

/// <summary>Every 100 ms, brings each VM's lab app up or down to match its lifecycle, and phones home.</summary>
internal sealed class LabAppTicker(Cloud cloud, LabApps apps, IHttpClientFactory httpFactory, ILogger<LabAppTicker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100), cloud.Time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            Tick();
        }
    }

    private void Tick()
    {
        foreach (var vm in cloud.Live())
        {
            var state = cloud.StateOf(vm);
            if (state.LabUp && !vm.LabCrashed)
            {
                if (!apps.EnsureServing(vm))
                {
                    continue;
                }

                vm.LabUpAt ??= cloud.Time.GetUtcNow();
                // The per-boot script reports every boot, with its number; the user_data's own phone-home runs on the first boot only.
                if (vm.PerBootUrl is { } perBoot && vm.PhonedBoot < state.Boot)
                {
                    vm.PhonedBoot = state.Boot;
                    _ = PhoneHomeAsync(vm, perBoot + state.Boot.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
                else if (vm.PerBootUrl is null && vm.OnceUrl is { } once && !vm.PhonedOnce)
                {
                    vm.PhonedOnce = true;
                    _ = PhoneHomeAsync(vm, once);
                }
            }
            else if (apps.IsServing(vm.Id))
            {
                apps.Stop(vm.Id);
            }

            // The agent's timer runs once the VM booted, whether or not the lab is up: a crashed lab is what it reports.
            if (vm.Agent is { } agent && state.ServerStatus == "ok" && state.Boot > 0 && !vm.AgentSilent
                && cloud.Time.GetUtcNow() - vm.LastHeartbeat >= TimeSpan.FromSeconds(agent.Seconds) && vm.LabUpAt is not null)
            {
                vm.LastHeartbeat = cloud.Time.GetUtcNow();
                var report = AgentEmulation.Report(vm, state.Boot);
                _ = PostAsync(vm, agent.Url, new StringContent(report, System.Text.Encoding.UTF8, "application/json"), "heartbeat");
            }
        }
    }

    private Task PhoneHomeAsync(Vm vm, string url) => PostAsync(vm, url, null, "phone-home");

    // Like cloud-init's last step, or the agent's; only loopback targets, since the emulator runs beside the system under test.
    private async Task PostAsync(Vm vm, string url, HttpContent? content, string what)
    {
        using (content)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !uri.IsLoopback)
            {
                logger.LogInformation("VM {Label}: {What} to {Url} skipped (not loopback)", vm.Label, what, url);
                return;
            }

            if (!(content is null ? cloud.Options.PhoneHome : cloud.Options.Agent))
            {
                return;
            }

            try
            {
                using var client = httpFactory.CreateClient();
                using var response = await client.PostAsync(uri, content);
                vm.PostFailing = false;
                logger.LogInformation("VM {Label}: {What}, {Status}", vm.Label, what, (int)response.StatusCode);
            }
            catch (HttpRequestException ex)
            {
                logger.Log(vm.PostFailing ? LogLevel.Debug : LogLevel.Warning, "VM {Label}: {What} failed: {Error}", vm.Label, what, ex.Message);
                vm.PostFailing = true;
            }
        }
    }
}
