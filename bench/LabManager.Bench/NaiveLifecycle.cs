using System.Collections.Concurrent;
using System.Net.Sockets;
using LabManager.Core.CloudInit;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using LabManager.Infrastructure;
using LabManager.Infrastructure.Postgres;
using LabManager.Testing;
using LabManager.VultrEmulator;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.Bench;

/// <summary>
/// The seed design's lifecycle, for comparison: the same arrivals, each VM polled every 10 s until it is ready and its lab
/// answers, and a cron that deletes expired VMs every 5 minutes. Same emulator settings and Vultr client as the Server.
/// </summary>
internal static class NaiveLifecycle
{
    private const int PollSeconds = 10;
    private const int CronSeconds = 300;

    public static async Task<LifecycleBench.NaiveResult> RunAsync(LifecycleBench.Size size)
    {
        Console.WriteLine($"== polling every {PollSeconds} s + cleanup cron every {CronSeconds / 60} min");
        await using var emulator = await VultrEmulatorApp.StartAsync(o =>
        {
            o.PendingSeconds = 0.5;
            o.BootSeconds = 0.5;
            o.InstallSeconds = 1;
            o.CloudInitSeconds = 1;
        });
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Vultr:BaseUrl"] = emulator.ApiBase.ToString(),
            ["Vultr:ApiKey"] = emulator.ApiKey,
        }).Build();
        await using var services = new ServiceCollection().AddLogging().AddVultrCloudProvider(configuration).BuildServiceProvider();
        var cloud = services.GetRequiredService<ICloudProvider>();
        var lab = LabDocument.ReadFile(RepoPaths.Catalog, new LabDefaults()).Single(l => l.Slug == "dvwa-sql-injection");
        var userData = CloudInitRenderer.Render(lab.ContainerConfig);
        var running = new ConcurrentDictionary<string, (string VmId, DateTimeOffset Expiry)>();
        var history = new ConcurrentDictionary<string, (DateTimeOffset RunningAt, DateTimeOffset Expiry)>();

        using var stop = new CancellationTokenSource();
        var cron = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(CronSeconds));
            while (await timer.WaitForNextTickAsync(stop.Token))
            {
                foreach (var (label, vm) in running.Where(kv => kv.Value.Expiry <= DateTimeOffset.UtcNow).ToList())
                {
                    await cloud.DeleteVmAsync(vm.VmId);
                    running.TryRemove(label, out _);
                }
            }
        });

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, size.Labs).Select(async i =>
        {
            var due = TimeSpan.FromSeconds(i / size.Rate) - clock.Elapsed;
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due);
            }

            var label = LabInstance.VmLabel(Guid.NewGuid());
            var vm = await cloud.CreateVmAsync(new VmSpec(label, lab.Region, lab.Plan, userData, ["labmanager"]));
            while (!vm.IsReady)
            {
                await Task.Delay(TimeSpan.FromSeconds(PollSeconds));
                vm = await cloud.GetVmAsync(vm.Id) ?? throw new InvalidOperationException($"VM {vm.Id} vanished");
            }

            while (!await AnswersAsync(vm.MainIp, 80))
            {
                await Task.Delay(TimeSpan.FromSeconds(PollSeconds));
            }

            var now = DateTimeOffset.UtcNow;
            history[label] = (now, now.AddSeconds(size.LifetimeSeconds));
            running[label] = (vm.Id, now.AddSeconds(size.LifetimeSeconds));
        }));
        await ProcessHost.WaitUntilAsync(() => Task.FromResult(running.IsEmpty), TimeSpan.FromSeconds(CronSeconds * 2), () => "the cron did not delete every VM");
        await stop.CancelAsync();
        await cron.ContinueWith(_ => { }, TaskScheduler.Default);

        var deleted = (await emulator.InspectAsync()).Deleted;
        return new LifecycleBench.NaiveResult(
            LifecycleBench.Percentiles.Of(deleted.Where(d => d.LabUpAt is not null).Select(d => (history[d.Label].RunningAt - d.LabUpAt!.Value).TotalMilliseconds)),
            LifecycleBench.Percentiles.Of(deleted.Select(d => (d.DeletedAt - history[d.Label].Expiry).TotalMilliseconds)),
            deleted.Sum(d => Math.Max(0, (d.DeletedAt - history[d.Label].Expiry).TotalSeconds)),
            PollSeconds,
            CronSeconds);
    }

    private static async Task<bool> AnswersAsync(string ip, int port)
    {
        try
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(ip, port).WaitAsync(TimeSpan.FromSeconds(2));
            return true;
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException)
        {
            return false;
        }
    }
}
