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
        }
    }

    // Like cloud-init's last step; only loopback targets, since the emulator runs beside the system under test.
    private async Task PhoneHomeAsync(Vm vm, string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !uri.IsLoopback)
        {
            logger.LogInformation("VM {Label}: phone-home to {Url} skipped (not loopback)", vm.Label, url);
            return;
        }

        if (!cloud.Options.PhoneHome)
        {
            return;
        }

        try
        {
            using var client = httpFactory.CreateClient();
            using var response = await client.PostAsync(uri, null);
            logger.LogInformation("VM {Label}: phoned home, {Status}", vm.Label, (int)response.StatusCode);
        }
        catch (HttpRequestException ex)
        {
            logger.LogWarning("VM {Label}: phone-home failed: {Error}", vm.Label, ex.Message);
        }
    }
}
