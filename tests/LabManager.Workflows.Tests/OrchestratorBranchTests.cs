using LabManager.Core.Instances;
using LabManager.Core.Ports;
using LabManager.Workflows.Instances;
using LabManager.Workflows.Readiness;
using LabManager.Workflows.Sessions;
using LabManager.Workflows.Vm;

namespace LabManager.Workflows.Tests;

/// <summary>The orchestrator's branches on a scripted context (<see cref="ScriptedSession"/>): milliseconds each, no engine.</summary>
public sealed class OrchestratorBranchTests
{
    private static readonly VmSnapshot Booting = new("vm-1", true, false, "pending/stopped/none", "0.0.0.0", "");
    private static readonly VmSnapshot Ready = new("vm-1", true, true, "active/running/ok", "203.0.113.9", "10.0.0.9");

    private static LabSessionInput Input(SessionTimings? timings = null) => new()
    {
        InstanceId = Guid.NewGuid(),
        UserId = Guid.NewGuid(),
        LabId = Guid.NewGuid(),
        SessionLength = TimeSpan.FromHours(1),
        MaxLifetime = TimeSpan.FromHours(2),
        Timings = timings ?? new SessionTimings(),
    };

    /// <summary>A cloud where the VM is ready at once and the lab answers.</summary>
    private static object? Healthy(string activity, object? input) => activity switch
    {
        nameof(CreateVmActivity) => Ready,
        nameof(GetVmActivity) => Ready,
        nameof(ProbeLabActivity) => new ProbeLabResult(true, "http://203.0.113.9/", "200"),
        _ => true,
    };

    /// <summary>The VM watch tells the session its VM (the create's <c>vm-1</c>) is usable, now.</summary>
    private static Task SeenAsync(ScriptedSession session, string vmId = "vm-1") =>
        session.RaiseAsync(LabEvents.VmSeen, new VmSighting(vmId, Ready.MainIp, Ready.InternalIp, Ready.State));

    private static async Task<ScriptedSession> RunningAsync(SessionTimings? timings = null)
    {
        var session = new ScriptedSession(Input(timings)) { Activities = Healthy };
        await session.StartAsync();
        await SeenAsync(session);
        Assert.Contains(session.Inputs<InstanceChange>(nameof(UpdateInstanceActivity)), c => c.Status == LabInstanceStatus.Running);
        Assert.False(session.Result.IsCompleted);
        return session;
    }

    private static LabInstanceStatus?[] Statuses(ScriptedSession session) =>
        [.. session.Inputs<InstanceChange>(nameof(UpdateInstanceActivity)).Where(c => c.Status is not null).Select(c => c.Status)];

    private static async Task<ScriptedSession> PooledAsync(Func<string, object?, object?>? activities = null)
    {
        var session = new ScriptedSession(Input() with { PoolMaxAge = TimeSpan.FromMinutes(30) }) { Activities = activities ?? Healthy };
        await session.StartAsync();
        await SeenAsync(session);
        Assert.Equal("pooled", session.Step);
        Assert.Equal([LabInstanceStatus.Provisioning, LabInstanceStatus.Pooled], Statuses(session));
        return session;
    }

    [Fact]
    public async Task Pooled_NoClaimWithinItsMaxAge_RetiresItself_VmDestroyed_NobodysProgressRecorded()
    {
        var session = await PooledAsync();

        var result = await session.RunToEndAsync();

        Assert.Equal((LabInstanceStatus.Stopped, true), (result.Status, result.VmDestroyed));
        Assert.Equal(ScriptedSession.Start.AddMinutes(30), session.Now);
        Assert.Single(session.Calls, c => c.Name == nameof(Pools.RetirePooledActivity));
        Assert.Contains(session.Inputs<InstanceChange>(nameof(UpdateInstanceActivity)), c => c.Message == "Retired from the pool after 30 minutes");
        Assert.DoesNotContain(session.Calls, c => c.Name == nameof(RecordProgressActivity));
    }

    [Fact]
    public async Task Pooled_Claimed_RunsForTheLearnerFromTheClaim_TheirSessionLength_TheirCostFromThen()
    {
        var session = await PooledAsync();
        var learner = Guid.NewGuid();

        await session.RaiseAsync(LabEvents.Claim, new ClaimRequest(learner, TimeSpan.FromMinutes(45), TimeSpan.Zero));

        var running = session.Inputs<InstanceChange>(nameof(UpdateInstanceActivity)).Last(c => c.Status == LabInstanceStatus.Running);
        Assert.Equal(session.Now.AddMinutes(45), running.ExpiresAt!.Value.UtcDateTime);
        Assert.Equal(session.Now, running.StartedAt!.Value.UtcDateTime);
        Assert.Equal(session.Now, Assert.Single(running.Vms!).CreatedAt.UtcDateTime);
        Assert.Single(session.Calls, c => c.Name == nameof(RecordProgressActivity));
        Assert.False(session.Result.IsCompleted);
    }

    [Fact]
    public async Task Pooled_ClaimedAsItRetires_TheClaimWins_AndAClaimThatNeverArrivesEndsIt()
    {
        // The retirement finds the instance claimed: the session waits for the claim's event and runs.
        var claimed = await PooledAsync((a, i) => a == nameof(Pools.RetirePooledActivity) ? false : Healthy(a, i));
        await claimed.FireTimerAsync();
        Assert.False(claimed.Result.IsCompleted);
        await claimed.RaiseAsync(LabEvents.Claim, new ClaimRequest(Guid.NewGuid(), TimeSpan.FromHours(1), TimeSpan.Zero));
        Assert.Contains(claimed.Inputs<InstanceChange>(nameof(UpdateInstanceActivity)), c => c.Status == LabInstanceStatus.Running);

        // Claimed in the database, but the event never came: ended in error after the grace, its VM destroyed.
        var lost = await PooledAsync((a, i) => a == nameof(Pools.RetirePooledActivity) ? false : Healthy(a, i));
        var result = await lost.RunToEndAsync();
        Assert.Equal((LabInstanceStatus.Error, true), (result.Status, result.VmDestroyed));
        Assert.Equal("Claimed from the pool, but the claim never reached the session", result.Error);
    }

    [Fact]
    public async Task StopWhileProvisioning_DestroysTheVmAndEndsStopped()
    {
        var session = new ScriptedSession(Input()) { Activities = (a, i) => a == nameof(GetVmActivity) ? Booting : Healthy(a, i) };
        await session.StartAsync();
        Assert.Equal("waiting-for-vm", session.Step);

        await session.RaiseAsync(LabEvents.Stop, new StopRequest());

        var result = await session.Result;
        Assert.Equal((LabInstanceStatus.Stopped, true), (result.Status, result.VmDestroyed));
        Assert.Equal([LabInstanceStatus.Provisioning, LabInstanceStatus.Stopping, LabInstanceStatus.Stopped], Statuses(session));
        Assert.Equal("vm-1", Assert.Single(session.Inputs<DestroyVmInput>(nameof(DestroyVmActivity))).VmId);
        Assert.DoesNotContain(session.Calls, c => c.Name == nameof(ProbeLabActivity));
    }

    [Fact]
    public async Task TheVmWatchsWord_BringsTheLabUpWithoutALook_AnotherVmsSightingIsIgnored()
    {
        var session = new ScriptedSession(Input()) { Activities = Healthy };
        await session.StartAsync();
        Assert.Equal("waiting-for-vm", session.Step);

        await SeenAsync(session, vmId: "vm-0");
        Assert.Equal("waiting-for-vm", session.Step);

        await SeenAsync(session);
        Assert.Contains(session.Inputs<InstanceChange>(nameof(UpdateInstanceActivity)), c => c.Status == LabInstanceStatus.Running);
        Assert.Equal(Ready.MainIp, Assert.Single(session.Inputs<ProbeLabInput>(nameof(ProbeLabActivity))).Ip);
        Assert.DoesNotContain(session.Calls, c => c.Name == nameof(GetVmActivity));
    }

    [Fact]
    public async Task APhoneHomeBeforeTheWatchsWord_TheSessionLooksItselfSoon()
    {
        var session = new ScriptedSession(Input()) { Activities = Healthy };
        await session.StartAsync();

        await session.RaiseAsync(LabEvents.LabReady, new LabReport(1, 1));
        Assert.Equal("waiting-for-vm", session.Step);
        await session.FireTimerAsync();

        Assert.Equal(ScriptedSession.Start + new SessionTimings().VmLookAfterPhoneHome, session.Now);
        Assert.Single(session.Calls, c => c.Name == nameof(GetVmActivity));
        Assert.Contains(session.Inputs<InstanceChange>(nameof(UpdateInstanceActivity)), c => c.Status == LabInstanceStatus.Running);
    }

    [Fact]
    public async Task VmNeverReady_ErrorAtTheDeadline_JudgedByALookAfterIt()
    {
        var timings = new SessionTimings { ProvisioningDeadline = TimeSpan.FromMinutes(3) };
        var session = new ScriptedSession(Input(timings)) { Activities = (a, i) => a == nameof(GetVmActivity) ? Booting : Healthy(a, i) };
        await session.StartAsync();

        var result = await session.RunToEndAsync();

        Assert.Equal(LabInstanceStatus.Error, result.Status);
        Assert.Equal("The VM was not ready within 00:03:00: it stayed pending/stopped/none", result.Error);
        Assert.True(session.Now >= ScriptedSession.Start + timings.ProvisioningDeadline);
        // Without the VM watch's word the session looks itself, rarely: after 2 min, then at the deadline.
        Assert.Equal(2, session.Calls.Count(c => c.Name == nameof(GetVmActivity)));
        Assert.Single(session.Calls, c => c.Name == nameof(DestroyVmActivity));
    }

    [Fact]
    public async Task Extend_CappedAtTheMaximumLifetime()
    {
        var session = await RunningAsync();

        await session.RaiseAsync(LabEvents.Extend, new ExtendRequest(TimeSpan.FromHours(5)));

        var extended = session.Inputs<InstanceChange>(nameof(UpdateInstanceActivity)).Last();
        Assert.Equal(new DateTimeOffset(ScriptedSession.Start + session.Input.MaxLifetime), extended.ExpiresAt);
        Assert.StartsWith("Extended to the maximum lifetime", extended.Message, StringComparison.Ordinal);
        var result = await session.RunToEndAsync();
        Assert.Equal(LabInstanceStatus.Expired, result.Status);
        Assert.Equal(ScriptedSession.Start + session.Input.MaxLifetime, session.Now);
    }

    [Fact]
    public async Task Restart_RebootsAndRunsAgainOnTheNextBootsReport()
    {
        var session = await RunningAsync();

        await session.RaiseAsync(LabEvents.Restart, true);
        Assert.Equal("vm-1", Assert.Single(session.Inputs<string>(nameof(RebootVmActivity))));
        Assert.Equal(LabInstanceStatus.Provisioning, Statuses(session)[^1]);
        // The old lab still answers right after the reboot: that proves nothing until the new boot reports.
        await session.RaiseAsync(LabEvents.LabReady, new LabReport(1, 2));
        await SeenAsync(session);

        Assert.Equal(LabInstanceStatus.Running, Statuses(session)[^1]);
        Assert.Equal(1, session.Inputs<InstanceChange>(nameof(UpdateInstanceActivity)).Last(c => c.RestartCount is not null).RestartCount);
        Assert.False(session.Result.IsCompleted);
    }

    [Fact]
    public async Task AgentHealth_OfTheCurrentVm_IsToldToTheLearner_AnOlderVmsIsIgnored_NothingElseChanges()
    {
        var session = await RunningAsync();
        var changes = session.Inputs<InstanceChange>(nameof(UpdateInstanceActivity)).Count();

        await session.RaiseAsync(LabEvents.Health, new LabHealthReport(2, 1, "degraded", "an older VM's"));
        Assert.Empty(session.Inputs<HealthNotice>(nameof(NotifyHealthActivity)));
        await session.RaiseAsync(LabEvents.Health, new LabHealthReport(1, 1, "degraded", "dvwa keeps failing"));

        var notice = Assert.Single(session.Inputs<HealthNotice>(nameof(NotifyHealthActivity)));
        Assert.Equal(("degraded", "dvwa keeps failing"), (notice.Report.Kind, notice.Report.Message));
        Assert.Equal(changes, session.Inputs<InstanceChange>(nameof(UpdateInstanceActivity)).Count());
        Assert.False(session.Result.IsCompleted);
    }

    [Fact]
    public async Task Reset_DestroysTheVmThenCreatesTheNextGeneration()
    {
        var session = await RunningAsync();

        await session.RaiseAsync(LabEvents.Reset, true);
        await SeenAsync(session);

        Assert.Equal([1, 2], session.Inputs<CreateVmInput>(nameof(CreateVmActivity)).Select(c => c.Generation));
        var destroy = Assert.Single(session.Inputs<DestroyVmInput>(nameof(DestroyVmActivity)));
        Assert.Equal(("vm-1", 1), (destroy.VmId, destroy.Generation));
        var destroyedAt = session.Calls.FindIndex(c => c.Name == nameof(DestroyVmActivity));
        Assert.True(destroyedAt < session.Calls.FindLastIndex(c => c.Name == nameof(CreateVmActivity)));
        Assert.Equal(LabInstanceStatus.Running, Statuses(session)[^1]);
    }

    [Fact]
    public async Task LostStopEvent_TheRecordSaysStop_SessionWindsDown()
    {
        // The stop's event was lost (a crash), but the record says a stop was asked for: the update answers false.
        var session = new ScriptedSession(Input())
        {
            Activities = (a, i) => a == nameof(UpdateInstanceActivity) && ((InstanceChange)i!).Status == LabInstanceStatus.Provisioning ? false : Healthy(a, i),
        };
        await session.StartAsync();

        var result = await session.Result;
        Assert.Equal(LabInstanceStatus.Stopped, result.Status);
        Assert.Single(session.Calls, c => c.Name == nameof(DestroyVmActivity));
        Assert.DoesNotContain(session.Calls, c => c.Name == nameof(ProbeLabActivity));
    }

    [Fact]
    public async Task StopRecordedBeforeAnythingWasMade_EndsStopped_WithoutAGroupOrAVm()
    {
        // The session's first update, an empty change, reads that a stop was asked for.
        var session = new ScriptedSession(Input())
        {
            Activities = (a, i) => a == nameof(UpdateInstanceActivity) && i is InstanceChange { Status: null, Step: null, Message: null } ? false : Healthy(a, i),
        };
        await session.StartAsync();

        var result = await session.Result;
        Assert.Equal(LabInstanceStatus.Stopped, result.Status);
        Assert.DoesNotContain(session.Calls, c => c.Name is nameof(Access.EnsureFirewallActivity) or nameof(CreateVmActivity) or nameof(DestroyVmActivity));
    }

    [Fact]
    public async Task LostStopEvent_SeenWhileTheVmIsUp_SessionWindsDownBeforeRunning()
    {
        // The stop lands after the VM booted: the step's update says so, and the lab is never made running.
        var session = new ScriptedSession(Input())
        {
            Activities = (a, i) => a == nameof(UpdateInstanceActivity) && ((InstanceChange)i!).Step == "waiting-for-lab" ? false : Healthy(a, i),
        };
        await session.StartAsync();
        await SeenAsync(session);

        var result = await session.Result;
        Assert.Equal(LabInstanceStatus.Stopped, result.Status);
        Assert.DoesNotContain(LabInstanceStatus.Running, Statuses(session));
        Assert.DoesNotContain(session.Calls, c => c.Name == nameof(ProbeLabActivity));
        Assert.Single(session.Calls, c => c.Name == nameof(DestroyVmActivity));
    }

    [Fact]
    public async Task ContinueAsNew_HandlesPendingEventsFirst_AndCarriesTheSession()
    {
        var session = await RunningAsync(new SessionTimings { EventsPerGeneration = 1 });
        // A phone-home arrives while the extension is being saved: it is pending when the generation is full.
        session.Activities = (a, i) =>
        {
            if (a == nameof(UpdateInstanceActivity) && ((InstanceChange)i!).ExpiresAt is not null)
            {
                session.Raise(LabEvents.LabReady, new LabReport(1, 3));
            }

            return Healthy(a, i);
        };

        await session.RaiseAsync(LabEvents.Extend, new ExtendRequest(TimeSpan.FromMinutes(15)));

        var result = await session.Result;
        Assert.Equal(LabInstanceStatus.Running, result.Status);
        var next = Assert.IsType<LabSessionInput>(session.ContinuedWith);
        Assert.Equal(new DateTimeOffset(ScriptedSession.Start.AddMinutes(75)), next.Live!.ExpiresAt);
        Assert.Equal(3, next.Live.Boot);
        Assert.Equal("vm-1", next.Live.VmId);
    }

    [Fact]
    public async Task CreateRefused_ErrorWithTheCloudsReason()
    {
        var session = new ScriptedSession(Input())
        {
            Activities = (a, i) => a == nameof(CreateVmActivity)
                ? new CloudRequestRefusedException("Vultr create instance answered 400: Invalid plan chosen.", 400)
                : Healthy(a, i),
        };
        await session.StartAsync();

        var result = await session.Result;
        Assert.Equal(LabInstanceStatus.Error, result.Status);
        Assert.Equal("Creating the VM failed: Vultr create instance answered 400: Invalid plan chosen.", result.Error);
        Assert.Single(session.Calls, c => c.Name == nameof(CreateVmActivity));
    }

    [Fact]
    public async Task ExpiryWarning_ThenExpired()
    {
        var session = await RunningAsync();

        var result = await session.RunToEndAsync();

        Assert.Equal(LabInstanceStatus.Expired, result.Status);
        var warning = Assert.Single(session.Inputs<ExpiryWarning>(nameof(NotifyExpiryActivity)));
        Assert.Equal(new DateTimeOffset(ScriptedSession.Start.AddMinutes(55)), warning.At);
        Assert.Equal(ScriptedSession.Start.AddHours(1), session.Now);
    }
}
