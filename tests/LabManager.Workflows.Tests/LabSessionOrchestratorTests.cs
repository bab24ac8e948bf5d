using System.Diagnostics;
using LabManager.Core.Instances;
using LabManager.Testing;
using LabManager.Workflows.Sessions;
using Xunit.Abstractions;

namespace LabManager.Workflows.Tests;

public sealed class LabSessionOrchestratorTests(LabSessionHost host, ITestOutputHelper output) : IClassFixture<LabSessionHost>
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    [Fact]
    public async Task Session_RunsToExpiry_LabAnswersThenVmDestroyed()
    {
        var clock = Stopwatch.StartNew();
        var id = await host.StartAsync(sessionLength: TimeSpan.FromSeconds(3));

        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);
        var toRunning = clock.Elapsed;
        Assert.NotNull(running.CloudInstanceId);
        Assert.StartsWith("http://127.", running.AccessUrl, StringComparison.Ordinal);
        Assert.Equal(running.StartedAt + TimeSpan.FromSeconds(3), running.ExpiresAt);
        var page = await Http.GetStringAsync(running.AccessUrl);
        Assert.Contains(running.CloudInstanceId, page, StringComparison.Ordinal);

        var result = await host.WaitForEndAsync(id);
        Assert.Equal(new LabSessionResult(LabInstanceStatus.Expired, null, true), result);
        var ended = (await host.Store.GetAsync(id))!;
        Assert.Equal(LabInstanceStatus.Expired, ended.Status);
        Assert.True(ended.EndedAt >= ended.ExpiresAt);

        var (created, deleted) = await host.AssertNoVmLeftAsync(id);
        Assert.Equal((1, 1), (created, deleted));
        var deletedAt = (await host.Emulator.InspectAsync()).Deleted.Single(d => d.Id == running.CloudInstanceId).DeletedAt;
        var destroyLag = deletedAt - running.ExpiresAt!.Value;
        Assert.True(destroyLag >= TimeSpan.Zero && destroyLag < TimeSpan.FromSeconds(5), $"destroy lag {destroyLag}");
        output.WriteLine($"start→running {toRunning.TotalMilliseconds:F0} ms; expiry→VM deleted {destroyLag.TotalMilliseconds:F0} ms");

        var statuses = host.Notifier.StatusesOf(id).Select(s => s.Status).Distinct().ToList();
        Assert.Equal([LabInstanceStatus.Provisioning, LabInstanceStatus.Running, LabInstanceStatus.Stopping, LabInstanceStatus.Expired], statuses);
        // The expiry timer ends the session; it never sends the VM through a restart on the way.
        Assert.DoesNotContain(LabInstanceStatus.Provisioning, host.Notifier.StatusesOf(id).Select(s => s.Status).SkipWhile(s => s != LabInstanceStatus.Running));
        Assert.Equal(0, ended.RestartCount);
        Assert.Equal(1, host.Tracker.StartsOf(id));
        var summary = Assert.Single(host.Tracker.EndsOf(id));
        Assert.Equal("expired", summary.Outcome);
        Assert.Equal(0.007m, summary.Cost);
        Assert.True(summary.VmLifetime > TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task Stop_BeforeExpiry_EndsStoppedAndDestroysVm()
    {
        var id = await host.StartAsync(sessionLength: TimeSpan.FromMinutes(30));
        await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Stop, new StopRequest("user"));

        var result = await host.WaitForEndAsync(id);
        Assert.Equal(LabInstanceStatus.Stopped, result.Status);
        Assert.True(result.VmDestroyed);
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
        Assert.Equal("stopped", Assert.Single(host.Tracker.EndsOf(id)).Outcome);
    }

    [Fact]
    public async Task Stop_WhileProvisioning_DestroysVmWithoutRunning()
    {
        var id = await host.StartAsync(sessionLength: TimeSpan.FromMinutes(30));
        await host.WaitForStatusAsync(id, LabInstanceStatus.Provisioning);

        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Stop, new StopRequest("user"));

        Assert.Equal(LabInstanceStatus.Stopped, (await host.WaitForEndAsync(id)).Status);
        Assert.DoesNotContain(host.Notifier.StatusesOf(id), s => s.Status == LabInstanceStatus.Running);
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
    }

    [Fact]
    public async Task Extend_MovesExpiry_BoundedByMaxLifetime()
    {
        var id = await host.StartAsync(sessionLength: TimeSpan.FromSeconds(4), maxLifetime: TimeSpan.FromSeconds(7));
        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Extend, new ExtendRequest(TimeSpan.FromSeconds(2)));
        var extended = await WaitUntilAsync(id, i => i.ExpiresAt != running.ExpiresAt);
        Assert.Equal(running.ExpiresAt + TimeSpan.FromSeconds(2), extended.ExpiresAt);

        // A second extension would pass the maximum lifetime: it is capped there.
        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Extend, new ExtendRequest(TimeSpan.FromMinutes(10)));
        var capped = await WaitUntilAsync(id, i => i.ExpiresAt != extended.ExpiresAt);
        Assert.Equal(running.StartedAt + TimeSpan.FromSeconds(7), capped.ExpiresAt);

        Assert.Equal(LabInstanceStatus.Expired, (await host.WaitForEndAsync(id)).Status);
        var ended = (await host.Store.GetAsync(id))!;
        Assert.True(ended.EndedAt >= capped.ExpiresAt, $"ended {ended.EndedAt:o} before the extended expiry {capped.ExpiresAt:o}");
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
    }

    [Fact]
    public async Task Restart_RebootsVm_ReadyAgainWithRestartCount()
    {
        var id = await host.StartAsync(sessionLength: TimeSpan.FromMinutes(30));
        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);
        var rebootsBefore = (await host.Emulator.InspectAsync()).Requests.GetValueOrDefault("reboot");

        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Restart, true);
        await host.WaitForStatusAsync(id, LabInstanceStatus.Provisioning);
        var again = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        Assert.Equal(1, again.RestartCount);
        Assert.Equal(running.CloudInstanceId, again.CloudInstanceId);
        Assert.Contains(running.CloudInstanceId!, await Http.GetStringAsync(again.AccessUrl), StringComparison.Ordinal);
        Assert.Equal(rebootsBefore + 1, (await host.Emulator.InspectAsync()).Requests.GetValueOrDefault("reboot"));

        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Stop, new StopRequest());
        Assert.Equal(LabInstanceStatus.Stopped, (await host.WaitForEndAsync(id)).Status);
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
    }

    [Fact]
    public async Task Restart_WithoutPhoneHome_TheProbeIsBelievedOnlyOnceTheRebootSettled()
    {
        var id = await host.StartAsync(sessionLength: TimeSpan.FromMinutes(30));
        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Restart, true);
        await host.WaitForStatusAsync(id, LabInstanceStatus.Provisioning);
        await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        // The old lab answered for 0.4 s after the reboot; the probe counts only after RebootSettle (1.5 s), by when the VM booted again.
        Assert.True(clock.Elapsed >= LabSessionHost.FastTimings.RebootSettle, $"running again after {clock.Elapsed}");
        Assert.Equal(2, (await host.Emulator.InspectAsync()).Vms.Single(v => v.Id == running.CloudInstanceId).Boot);
        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Stop, new StopRequest());
        await host.WaitForEndAsync(id);
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
    }

    [Fact]
    public async Task Reset_ReplacesVm_OldOneGone()
    {
        var id = await host.StartAsync(sessionLength: TimeSpan.FromMinutes(30));
        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Reset, true);
        await host.WaitForStatusAsync(id, LabInstanceStatus.Provisioning);
        var again = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        Assert.NotEqual(running.CloudInstanceId, again.CloudInstanceId);
        var inspection = await host.Emulator.InspectAsync();
        Assert.DoesNotContain(inspection.Vms, v => v.Id == running.CloudInstanceId);
        Assert.Single(inspection.Vms, v => v.Id == again.CloudInstanceId);
        Assert.Contains(again.CloudInstanceId!, await Http.GetStringAsync(again.AccessUrl), StringComparison.Ordinal);

        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Stop, new StopRequest());
        Assert.Equal(LabInstanceStatus.Stopped, (await host.WaitForEndAsync(id)).Status);
        Assert.Equal((2, 2), await host.AssertNoVmLeftAsync(id));
        // The new VM has the next label generation: one VM per label.
        var creates = (await host.Emulator.InspectAsync()).Creates;
        Assert.Equal((1, 1), (creates[LabInstance.VmLabel(id)], creates[LabInstance.VmLabel(id, 2)]));
        // Two VMs, each billed its first hour.
        Assert.Equal(0.014m, Assert.Single(host.Tracker.EndsOf(id)).Cost);
    }

    [Fact]
    public async Task LiveLoop_ManyEvents_ContinuesAsNewAndStillStops()
    {
        var timings = LabSessionHost.FastTimings with { EventsPerGeneration = 2 };
        var id = await host.StartAsync(sessionLength: TimeSpan.FromMinutes(10), maxLifetime: TimeSpan.FromHours(1), timings: timings);
        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        for (var i = 1; i <= 5; i++)
        {
            await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Extend, new ExtendRequest(TimeSpan.FromMinutes(1)));
        }

        var extended = await WaitUntilAsync(id, i => i.ExpiresAt == running.ExpiresAt + TimeSpan.FromMinutes(5));
        Assert.Equal(running.ExpiresAt + TimeSpan.FromMinutes(5), extended.ExpiresAt);
        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Stop, new StopRequest());
        Assert.Equal(LabInstanceStatus.Stopped, (await host.WaitForEndAsync(id)).Status);
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
    }

    [Fact]
    public async Task LiveLoop_ManyPhoneHomes_CountAsEvents_TheHistoryIsRestarted()
    {
        // A VM (the learner's ground) may report as often as it likes: each report counts towards ContinueAsNew like any event.
        var timings = LabSessionHost.FastTimings with { EventsPerGeneration = 2 };
        var id = await host.StartAsync(sessionLength: TimeSpan.FromMinutes(10), timings: timings);
        await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        for (var boot = 2; boot <= 7; boot++)
        {
            await host.Client.RaiseEventAsync(id.ToString(), LabEvents.LabReady, new LabReport(1, boot));
        }

        await ProcessHost.WaitUntilAsync(() => Task.FromResult(host.Logs.Lines.Count(l => l.Contains($"Instance {id}: continuing as new", StringComparison.Ordinal)) >= 2),
            TimeSpan.FromSeconds(20), () => "six reports did not restart the history twice\n" + host.Logs.Tail());
        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Stop, new StopRequest());
        Assert.Equal(LabInstanceStatus.Stopped, (await host.WaitForEndAsync(id)).Status);
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
    }

    [Fact]
    public async Task ExpiryWarning_SentOncePerExpiry_BeforeTheEnd()
    {
        var timings = LabSessionHost.FastTimings with { ExpiryWarning = TimeSpan.FromSeconds(2) };
        var id = await host.StartAsync(sessionLength: TimeSpan.FromSeconds(4), timings: timings);
        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        await WaitUntilAsync(id, _ => host.Notifier.NotificationsOf(running.UserId).Count == 1);
        var warning = Assert.Single(host.Notifier.NotificationsOf(running.UserId));
        Assert.Equal(LabInstanceStatus.Running, (await host.Store.GetAsync(id))!.Status);
        Assert.Equal("warning", warning.Type);
        Assert.Equal("Your lab expires in 1 minute; extend it to keep working", warning.Message);
        Assert.Equal(id.ToString(), warning.Metadata!["instanceId"]);

        Assert.Equal(LabInstanceStatus.Expired, (await host.WaitForEndAsync(id)).Status);
        Assert.Single(host.Notifier.NotificationsOf(running.UserId));
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
    }

    private async Task<LabInstance> WaitUntilAsync(Guid id, Func<LabInstance, bool> condition)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            var instance = (await host.Store.GetAsync(id))!;
            if (condition(instance))
            {
                return instance;
            }

            await Task.Delay(25, cts.Token);
        }
    }
}
