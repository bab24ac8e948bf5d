using LabManager.Core.Instances;
using LabManager.Core.Ports;
using LabManager.Workflows.Access;
using LabManager.Workflows.Instances;
using LabManager.Workflows.Pools;
using LabManager.Workflows.Readiness;
using LabManager.Workflows.Vm;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace LabManager.Workflows.Sessions;

/// <summary>
/// One lab session, from VM creation to VM destruction: create → wait for the VM → wait for the lab →
/// running → live loop (expiry timer, Stop, Extend, Restart, Reset) → destroy → ended. Any failure after the
/// VM is asked for destroys it and ends in error. Deterministic: all I/O is in activities.
/// </summary>
public sealed class LabSessionOrchestrator : TaskOrchestrator<LabSessionInput, LabSessionResult>
{
    public override Task<LabSessionResult> RunAsync(TaskOrchestrationContext context, LabSessionInput input) =>
        new Run(context, input).ExecuteAsync();

    private sealed record Ending(LabInstanceStatus Status, string Message, string? Error = null);

    private sealed record BringUp(Ending? Ending, VmSnapshot? Vm, string? AccessUrl);

    private enum Woke
    {
        Timer,
        Stop,
        LabReady,
        VmSeen,
    }

    /// <summary>The state of one execution (one generation between ContinueAsNew calls).</summary>
    private sealed class Run(TaskOrchestrationContext ctx, LabSessionInput start)
    {
        // A pooled session's input changes once: when a learner claims it.
        private LabSessionInput input = start;

        private readonly Inbox _inbox = new(ctx);

        private readonly TaskOptions _retry = RetryTransient(5, start.Timings.RetryInterval, TimeSpan.FromSeconds(30));

        // Deleting is what stops the bill: keep trying for minutes before giving up to reconciliation.
        private readonly TaskOptions _destroyRetry = RetryTransient(10, start.Timings.RetryInterval, TimeSpan.FromSeconds(60));

        /// <summary>
        /// Retries an activity that failed for a reason that may pass (a 5xx, 429, a timeout), waiting <paramref name="first"/>, then
        /// twice as long each time up to <paramref name="longest"/>; a refusal (a Vultr 4xx, a lab that does not exist) fails at once.
        /// </summary>
        private static TaskOptions RetryTransient(int attempts, TimeSpan first, TimeSpan longest) => TaskOptions.FromRetryHandler(async retry =>
        {
            if (retry.LastAttemptNumber >= attempts || retry.LastFailure.IsCausedBy<CloudRequestRefusedException>()
                || retry.LastFailure.IsCausedBy<PermanentFailureException>())
            {
                return false;
            }

            var wait = TimeSpan.FromTicks(Math.Min(longest.Ticks, first.Ticks * (1L << Math.Min(retry.LastAttemptNumber - 1, 20))));
            await retry.OrchestrationContext.CreateTimer(wait, retry.CancellationToken);
            return true;
        });

        // Whether this execution asked for a VM (a create may have reached Vultr even if its answer never came back).
        private bool _vmAsked;

        // The session's one state: carried across ContinueAsNew as input.Live.
        private readonly SessionState _s = SessionState.From(start.Live);

        // Replay-safe: writes only when the orchestrator is not replaying. Callers pass constant templates.
#pragma warning disable CA2254
        private void Log(string message, params object?[] args) =>
            ctx.CreateReplaySafeLogger<LabSessionOrchestrator>().LogInformation(message, args);
#pragma warning restore CA2254

        private DateTimeOffset Now => new(ctx.CurrentUtcDateTime, TimeSpan.Zero);

        public async Task<LabSessionResult> ExecuteAsync()
        {
            try
            {
                if (input.Live is null && await StartAsync() is { } ending)
                {
                    return await EndAsync(ending);
                }

                var end = await LiveLoopAsync();
                return end is null ? new LabSessionResult(LabInstanceStatus.Running, null, false) : await EndAsync(end);
            }
            catch (TaskFailedException ex)
            {
                return await EndAsync(new Ending(LabInstanceStatus.Error, "The lab failed", Describe(ex)));
            }
        }

        /// <summary>Creates the VM and brings the lab up; null once it runs, else how the session ends.</summary>
        private async Task<Ending?> StartAsync()
        {
            // A stop asked for before anything was made (a learner who changed their mind, a class that pressed Start twice) ends the
            // session here: no firewall group, no VM, no Vultr call.
            // (An empty change writes and tells nothing: it only reads whether a stop was asked for.)
            Step("creating-vm", "Creating the firewall group");
            if (!await UpdateAsync(new InstanceChange(input.InstanceId, Now)))
            {
                return StopAskedFor();
            }

            VmSnapshot vm;
            try
            {
                // The firewall group first: the VM is never up open to everyone.
                _s.FirewallGroupId = await ctx.CallActivityAsync<string>(nameof(EnsureFirewallActivity), new FirewallInput(input.InstanceId, input.LabId, input.Lab), _retry);
                Step("creating-vm", "Creating the VM");
                vm = await CreateVmAsync();
            }
            catch (TaskFailedException ex)
            {
                // The learner is told the lab could not start; the operator reads why (e.g. Vultr's refusal of a plan in a region).
                return new Ending(LabInstanceStatus.Error, NotStarted, "Creating the VM failed: " + Describe(ex));
            }

            if (!await UpdateAsync(new InstanceChange(input.InstanceId, Now)
            {
                Status = LabInstanceStatus.Provisioning,
                Step = "waiting-for-vm",
                CloudInstanceId = vm.VmId,
                FirewallGroupId = _s.FirewallGroupId,
                Vms = [.. _s.Vms],
                Message = "VM created, booting",
            }))
            {
                return StopAskedFor();
            }

            var up = await BringUpAsync(minBoot: 1, rebootedAt: null);
            if (up.Ending is not null)
            {
                return up.Ending;
            }

            if (input.PoolMaxAge is { } maxAge && await WaitInPoolAsync(up, maxAge) is { } retired)
            {
                return retired;
            }

            // The step is committed with this episode, before the activity below makes the instance "running".
            Step("running", "Lab is ready");
            var now = Now;
            (_s.PublicIp, _s.AccessUrl, _s.StartedAt, _s.ExpiresAt, _s.MaxExpiresAt) = (up.Vm!.MainIp, up.AccessUrl, now, now + input.SessionLength, now + input.MaxLifetime);
            _s.IdleCheckAt = input.IdleTimeout > TimeSpan.Zero ? now + input.IdleTimeout - IdleLead : null;
            var goOn = await UpdateAsync(new InstanceChange(input.InstanceId, now)
            {
                Status = LabInstanceStatus.Running,
                Step = "running",
                Message = "Lab is ready",
                PublicIp = up.Vm.MainIp,
                InternalIp = up.Vm.InternalIp,
                AccessUrl = up.AccessUrl,
                StartedAt = now,
                ExpiresAt = _s.ExpiresAt,
                Vms = [.. _s.Vms],
            });
            if (!goOn)
            {
                return StopAskedFor();
            }

            await ctx.CallActivityAsync<bool>(nameof(RecordProgressActivity), new ProgressInput(input.InstanceId, now), _retry);
            Log("Instance {InstanceId} running at {Url} until {ExpiresAt:o}", input.InstanceId, up.AccessUrl, _s.ExpiresAt);
            return null;
        }

        /// <summary>
        /// A pooled session, booted: it waits in the pool for a learner's claim until it is <paramref name="maxAge"/> old, then retires
        /// (unless a claim came first). Claimed, it becomes that learner's session: their address opens their ports, and their cost
        /// starts now. Null once claimed, else how the session ends.
        /// </summary>
        private async Task<Ending?> WaitInPoolAsync(BringUp up, TimeSpan maxAge)
        {
            Step("pooled", "Ready in the pool");
            if (!await UpdateAsync(new InstanceChange(input.InstanceId, Now)
            {
                Status = LabInstanceStatus.Pooled,
                Step = "pooled",
                Message = "Ready in the pool",
                PublicIp = up.Vm!.MainIp,
                InternalIp = up.Vm.InternalIp,
                AccessUrl = up.AccessUrl,
            }))
            {
                return StopAskedFor();
            }

            var retireAt = _s.Vms[0].CreatedAt + maxAge;
            using var cts = new CancellationTokenSource();
            var timer = ctx.CreateTimer(retireAt.UtcDateTime, cts.Token);
            var claimedFirst = false;
            // Bounded: a VM in the pool has no learner to reboot it, so many reports mean it is broken.
            for (var turn = 0; turn < input.Timings.EventsPerGeneration; turn++)
            {
                var winner = await Task.WhenAny(_inbox.Claim, _inbox.Stop, _inbox.LabReady, timer);
                if (winner == _inbox.LabReady)
                {
                    TakeReport();
                    continue;
                }

                if (winner == timer)
                {
                    if (claimedFirst)
                    {
                        return new Ending(LabInstanceStatus.Error, NotStarted, "Claimed from the pool, but the claim never reached the session");
                    }

                    // A claim committed just before the retirement wins: its event is on its way.
                    if (await ctx.CallActivityAsync<bool>(nameof(RetirePooledActivity), input.InstanceId, _retry))
                    {
                        return new Ending(LabInstanceStatus.Stopped, $"Retired from the pool after {IdleTime.Describe(maxAge)}");
                    }

                    claimedFirst = true;
                    timer = ctx.CreateTimer((Now + ClaimGrace).UtcDateTime, cts.Token);
                    continue;
                }

                cts.Cancel();
                if (winner == _inbox.Stop)
                {
                    return StoppedBy();
                }

                var claim = _inbox.TakeClaim();
                input = input with { UserId = claim.UserId, SessionLength = claim.SessionLength, IdleTimeout = claim.IdleTimeout, PoolMaxAge = null };
                Log("Instance {InstanceId}: claimed from the pool by {UserId}", input.InstanceId, claim.UserId);
                await ctx.CallActivityAsync<string>(nameof(EnsureFirewallActivity), new FirewallInput(input.InstanceId, input.LabId, input.Lab, _s.FirewallGroupId), _retry);
                _s.Vms[^1] = _s.Vms[^1] with { CreatedAt = Now };
                return null;
            }

            cts.Cancel();
            return new Ending(LabInstanceStatus.Stopped, "Retired from the pool: its VM reported more boots than a pooled VM makes");
        }

        /// <summary>
        /// Waits for the VM to be usable, then for the lab: its phone-home from boot <paramref name="minBoot"/> or later of the current VM,
        /// or an answering probe — believed after a reboot (<paramref name="rebootedAt"/>) only once <see cref="SessionTimings.RebootSettle"/>
        /// has passed, since the previous boot's lab may still answer then. Stop ends the wait.
        /// </summary>
        private async Task<BringUp> BringUpAsync(int minBoot, DateTimeOffset? rebootedAt)
        {
            var t = input.Timings;
            Step("waiting-for-vm", "Waiting for the VM to boot");
            var deadline = Now + t.ProvisioningDeadline;
            // The shared VM watch tells the session when the cloud lists its VM usable; the session looks itself only when the watch has said
            // nothing for a while (a VM the list does not show). Each deadline is judged by a look taken after it passed ("last look", decided
            // before looking): a look from before a crash that held the session up says nothing about now.
            var delay = t.VmPollInitial;
            var lookAt = Now + delay;
            var vm = new VmSnapshot(_s.VmId!, true, false, "booting", "0.0.0.0", "");
            for (var lastLook = false; !vm.Ready; )
            {
                if (!vm.Exists)
                {
                    return Failed("The VM disappeared while booting");
                }

                if (lastLook)
                {
                    return Failed($"The VM was not ready within {t.ProvisioningDeadline}: it stayed {vm.State}");
                }

                var woke = await WaitAsync(Min(lookAt, deadline), vmSeen: true);
                if (woke == Woke.Stop)
                {
                    return new BringUp(StoppedBy(), null, null);
                }

                if (woke == Woke.VmSeen)
                {
                    // A sighting of an earlier VM says nothing about this one. After a reboot an ok proves nothing either: the lab's later
                    // boot is what the wait below asks for.
                    if (_inbox.TakeVmSeen() is { } seen && seen.VmId == _s.VmId)
                    {
                        vm = new VmSnapshot(seen.VmId, true, true, seen.State, seen.MainIp, seen.InternalIp);
                    }

                    continue;
                }

                if (woke == Woke.LabReady)
                {
                    // The lab phoning home means its VM is up too: the watch tells soon, else the session looks itself.
                    lookAt = Min(lookAt, Now + t.VmLookAfterPhoneHome);
                    continue;
                }

                lastLook = Now >= deadline;
                vm = await ctx.CallActivityAsync<VmSnapshot>(nameof(GetVmActivity), _s.VmId!, _retry);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, t.VmPollMax.Ticks));
                lookAt = Now + delay;
            }

            Step("waiting-for-lab", "Waiting for the lab to answer");
            // Told live, so the page shows the step without asking for it; like every update, it says whether a stop was asked for.
            if (!await UpdateAsync(new InstanceChange(input.InstanceId, Now) { Step = "waiting-for-lab", Message = "VM up; waiting for the lab to answer" }))
            {
                return new BringUp(StopAskedFor(), null, null);
            }

            var labDeadline = Now + t.LabReadyDeadline;
            var probe = await ProbeAsync(vm);
            for (var lastLook = false; _s.Boot < minBoot && !(probe.Up && (rebootedAt is null || Now - rebootedAt >= t.RebootSettle)); )
            {
                if (lastLook)
                {
                    return Failed(probe.Up
                        ? $"The lab did not report the new boot within {t.LabReadyDeadline}"
                        : $"The lab did not answer at {probe.Target ?? probe.AccessUrl} within {t.LabReadyDeadline}: {probe.Detail}");
                }

                if (await WaitAsync(Min(Now + t.LabProbeInterval, labDeadline)) == Woke.Stop)
                {
                    return new BringUp(StoppedBy(), null, null);
                }

                lastLook = Now >= labDeadline;
                if (_s.Boot < minBoot)
                {
                    probe = await ProbeAsync(vm);
                }
            }

            if (_s.Boot >= minBoot)
            {
                Log("Instance {InstanceId}: the lab phoned home from boot {Boot}", input.InstanceId, _s.Boot);
            }

            return new BringUp(null, vm, probe.AccessUrl);
        }

        private Task<ProbeLabResult> ProbeAsync(VmSnapshot vm) =>
            ctx.CallActivityAsync<ProbeLabResult>(nameof(ProbeLabActivity), new ProbeLabInput(input.LabId, vm.MainIp, input.Lab?.Container, input.InstanceId), _retry);

        /// <summary>Running: wait for the expiry or an event. Returns how it ended, or null after ContinueAsNew.</summary>
        private async Task<Ending?> LiveLoopAsync()
        {
            // Events already delivered to this history are handled before ContinueAsNew: not every backend carries them over.
            for (var handled = 0; handled < input.Timings.EventsPerGeneration || _inbox.HasPending; handled++)
            {
                Step("running", $"Running until {_s.ExpiresAt:o}");
                Task winner;
                bool timerFired;
                do
                {
                    // Timers may fire a little early on some backends: trust the clock, not the timer.
                    if (Now >= _s.ExpiresAt)
                    {
                        return new Ending(LabInstanceStatus.Expired, "The session's time is up");
                    }

                    // Wake first for the expiry warning, once per expiry time (an extension earns a new one).
                    var warnAt = _s.ExpiresAt - input.Timings.ExpiryWarning;
                    var warn = input.Timings.ExpiryWarning > TimeSpan.Zero && _s.WarnedFor != _s.ExpiresAt;
                    if (warn && Now >= warnAt)
                    {
                        await ctx.CallActivityAsync<bool>(nameof(NotifyExpiryActivity), new ExpiryWarning(input.InstanceId, _s.ExpiresAt, Now), _retry);
                        _s.WarnedFor = _s.ExpiresAt;
                        warn = false;
                    }

                    if (_s.IdleCheckAt is { } checkAt && Now >= checkAt && await CheckIdleAsync() is { } idle)
                    {
                        return idle;
                    }

                    var wakeAt = warn ? warnAt : _s.ExpiresAt;
                    wakeAt = _s.IdleCheckAt is { } idleAt && idleAt < wakeAt ? idleAt : wakeAt;
                    using var cts = new CancellationTokenSource();
                    var timer = ctx.CreateTimer(wakeAt.UtcDateTime, cts.Token);
                    winner = await Task.WhenAny(timer, _inbox.Stop, _inbox.Extend, _inbox.Restart, _inbox.Reset, _inbox.LabReady, _inbox.Health);
                    timerFired = winner == timer;
                    if (!timerFired)
                    {
                        cts.Cancel();
                    }
                }
                // A timer (the warning or the expiry) only sends the loop round to look at the clock again.
                while (timerFired);

                // A phone-home while running (the learner rebooted the VM): noted, and counted like any event, so however often a
                // VM reports, the history stays short.
                if (winner == _inbox.LabReady)
                {
                    TakeReport();
                    continue;
                }

                // The agent's word on the containers: told to the learner when it is of the current VM; it changes nothing else.
                if (winner == _inbox.Health)
                {
                    if (_inbox.TakeHealth() is { } health && health.Generation == _s.Generation)
                    {
                        Log("Instance {InstanceId}: the agent reports the lab {Kind}", input.InstanceId, health.Kind);
                        await ctx.CallActivityAsync<bool>(nameof(NotifyHealthActivity), new HealthNotice(input.InstanceId, health), _retry);
                    }

                    continue;
                }

                if (winner == _inbox.Stop)
                {
                    return StoppedBy();
                }

                if (winner == _inbox.Extend)
                {
                    await ExtendAsync(_inbox.TakeExtend());
                }
                else
                {
                    var reset = winner == _inbox.Reset;
                    _inbox.TakeRestartOrReset(reset);
                    if (await RebuildAsync(reset) is { } ending)
                    {
                        return ending;
                    }
                }
            }

            Log("Instance {InstanceId}: continuing as new to keep the history short", input.InstanceId);
            ctx.ContinueAsNew(input with { Live = _s.ToLive() }, preserveUnprocessedEvents: true);
            return null;
        }

        /// <summary>The idle warning's lead: <see cref="SessionTimings.IdleWarning"/>, at most half the idle timeout.</summary>
        private TimeSpan IdleLead => input.Timings.IdleWarning < input.IdleTimeout / 2 ? input.Timings.IdleWarning : input.IdleTimeout / 2;

        /// <summary>
        /// Reads the lab's last activity: idle for the whole timeout ends the session; near it, the learner is warned once per last activity.
        /// Sets when to look next.
        /// </summary>
        private async Task<Ending?> CheckIdleAsync()
        {
            var verdict = await ctx.CallActivityAsync<IdleVerdict>(nameof(CheckIdleActivity),
                new IdleCheck(input.InstanceId, Now, _s.StartedAt, input.IdleTimeout, IdleLead, _s.IdleWarnedFor), _retry);
            if (verdict.Stop)
            {
                Log("Instance {InstanceId}: idle since {Last:o}; stopping it", input.InstanceId, verdict.LastActivity);
                return new Ending(LabInstanceStatus.Stopped, $"Stopped after {IdleTime.Describe(input.IdleTimeout)} without activity");
            }

            _s.IdleWarnedFor = verdict.Warned ? verdict.LastActivity : _s.IdleWarnedFor;
            var warned = _s.IdleWarnedFor == verdict.LastActivity;
            _s.IdleCheckAt = verdict.LastActivity + input.IdleTimeout - (warned ? TimeSpan.Zero : IdleLead);
            return null;
        }

        private async Task ExtendAsync(ExtendRequest request)
        {
            if (request.By <= TimeSpan.Zero)
            {
                return;
            }

            var expires = Min(_s.ExpiresAt + request.By, _s.MaxExpiresAt);
            var capped = expires == _s.MaxExpiresAt;
            await UpdateAsync(new InstanceChange(input.InstanceId, Now)
            {
                ExpiresAt = expires,
                Message = capped ? $"Extended to the maximum lifetime, until {expires:o}" : $"Extended until {expires:o}",
            });
            _s.ExpiresAt = expires;
        }

        /// <summary>
        /// Restart reboots the VM and waits for a later boot; Reset destroys it and makes a fresh one under the next label generation,
        /// so a VM still listed while it is destroyed is never taken for the new one. Either way the lab is awaited again.
        /// </summary>
        private async Task<Ending?> RebuildAsync(bool reset)
        {
            var restarts = _s.RestartCount + 1;
            await UpdateAsync(new InstanceChange(input.InstanceId, Now)
            {
                Status = LabInstanceStatus.Provisioning,
                Step = "waiting-for-vm",
                RestartCount = restarts,
                Message = reset ? "Resetting the lab on a fresh VM" : "Restarting the VM",
            });
            int minBoot;
            DateTimeOffset? rebootedAt = null;
            if (reset)
            {
                Step("replacing-vm", "Destroying the old VM");
                await DestroyVmAsync();
                _s.Generation++;
                _s.Boot = 0;
                var vm = await CreateVmAsync();
                await UpdateAsync(new InstanceChange(input.InstanceId, Now) { CloudInstanceId = vm.VmId, Vms = [.. _s.Vms] });
                minBoot = 1;
            }
            else
            {
                // A session that never heard a boot number was on boot 1 at least.
                minBoot = Math.Max(_s.Boot, 1) + 1;
                await ctx.CallActivityAsync<bool>(nameof(RebootVmActivity), _s.VmId!, _retry);
                rebootedAt = Now;
            }

            var up = await BringUpAsync(minBoot, rebootedAt);
            if (up.Ending is not null)
            {
                return up.Ending;
            }

            Step("running", "Lab is ready");
            var boot = _s.Boot > 0 ? $" (boot {_s.Boot})" : "";
            await UpdateAsync(new InstanceChange(input.InstanceId, Now)
            {
                Status = LabInstanceStatus.Running,
                Step = "running",
                Message = reset ? "Lab reset and ready" + boot : "Lab restarted and ready" + boot,
                PublicIp = up.Vm!.MainIp,
                InternalIp = up.Vm.InternalIp,
                AccessUrl = up.AccessUrl,
            });
            (_s.PublicIp, _s.AccessUrl, _s.RestartCount) = (up.Vm.MainIp, up.AccessUrl, restarts);
            return null;
        }

        private async Task<VmSnapshot> CreateVmAsync()
        {
            _vmAsked = true;
            var vm = await ctx.CallActivityAsync<VmSnapshot>(nameof(CreateVmActivity),
                new CreateVmInput(input.InstanceId, input.LabId, _s.Generation, input.Lab, _s.FirewallGroupId), _retry);
            _s.VmId = vm.VmId;
            _s.Vms.Add(new VmUsage(vm.VmId, Now));
            return vm;
        }

        /// <summary>Destroys the current VM (Vultr accepted the delete), and notes when its bill stopped.</summary>
        private async Task DestroyVmAsync()
        {
            await ctx.CallActivityAsync<bool>(nameof(DestroyVmActivity), new DestroyVmInput(input.InstanceId, _s.VmId, _s.Generation), _destroyRetry);
            var i = _s.Vms.FindLastIndex(v => v.VmId == _s.VmId && v.DestroyedAt is null);
            if (i >= 0)
            {
                _s.Vms[i] = _s.Vms[i] with { DestroyedAt = Now };
            }

            _s.VmId = null;
        }

        /// <summary>Destroys the VM, then records how the session ended.</summary>
        private async Task<LabSessionResult> EndAsync(Ending ending)
        {
            Step("stopping", ending.Message);
            await UpdateAsync(new InstanceChange(input.InstanceId, Now) { Status = LabInstanceStatus.Stopping, Message = ending.Message });

            var destroyed = true;
            var vmId = _s.VmId;
            try
            {
                // A session that never asked for a VM has none to look for.
                if (_vmAsked || input.Live is not null)
                {
                    await DestroyVmAsync();
                }
            }
            catch (TaskFailedException ex)
            {
                destroyed = false;
                ending = new Ending(LabInstanceStatus.Error, ending.Message,
                    $"The VM {vmId} could not be destroyed ({Describe(ex)}); reconciliation will remove it");
            }

            // The group goes once its VM is gone; one left behind (or kept by a VM that would not go) is reconciliation's to delete.
            if (destroyed && _s.FirewallGroupId is { } firewall)
            {
                try
                {
                    await ctx.CallActivityAsync<bool>(nameof(DeleteFirewallActivity), firewall, _retry);
                }
                catch (TaskFailedException ex)
                {
                    Log("Instance {InstanceId}: firewall group {GroupId} not deleted ({Error}); reconciliation will", input.InstanceId, firewall, Describe(ex));
                }
            }

            var now = Now;
            await UpdateAsync(new InstanceChange(input.InstanceId, now) { Status = ending.Status, Message = ending.Message, ErrorMessage = ending.Error, Vms = [.. _s.Vms] });
            // A pooled VM no learner claimed was nobody's session.
            if (input.PoolMaxAge is null)
            {
                await ctx.CallActivityAsync<bool>(nameof(RecordProgressActivity), new ProgressInput(input.InstanceId, now, ending.Status.ToWire()), _retry);
            }

            Step(ending.Status.ToWire(), ending.Error ?? ending.Message);
            Log("Instance {InstanceId} ended {Status}: {Message}", input.InstanceId, ending.Status.ToWire(), ending.Error ?? ending.Message);
            return new LabSessionResult(ending.Status, ending.Error, destroyed);
        }

        private Ending StoppedBy()
        {
            var request = _inbox.TakeStop();
            return request.Reason == StopRequest.Expired
                ? new Ending(LabInstanceStatus.Expired, "The session's time is up")
                : new Ending(LabInstanceStatus.Stopped, $"Stopped by {request.Reason}");
        }

        /// <summary>The instance's record says to stop (a stop whose event never arrived, or an instance already ended).</summary>
        private Ending StopAskedFor()
        {
            Log("Instance {InstanceId}: a stop was asked for (or the instance ended) while it started; winding down", input.InstanceId);
            return new Ending(LabInstanceStatus.Stopped, "Stopped by user");
        }

        private const string NotStarted = "The lab could not be started";

        /// <summary>How long a pooled session claimed at its retirement waits for the claim's event.</summary>
        private static readonly TimeSpan ClaimGrace = TimeSpan.FromMinutes(2);

        private static BringUp Failed(string error) => new(new Ending(LabInstanceStatus.Error, NotStarted, error), null, null);

        /// <summary>
        /// Waits until <paramref name="until"/>, a stop, a phone-home (noted in the session state), or, with <paramref name="vmSeen"/>, the VM
        /// watch's word (left in the inbox for the caller).
        /// </summary>
        private async Task<Woke> WaitAsync(DateTimeOffset until, bool vmSeen = false)
        {
            using var cts = new CancellationTokenSource();
            var timer = ctx.CreateTimer(until.UtcDateTime, cts.Token);
            var winner = vmSeen
                ? await Task.WhenAny(timer, _inbox.Stop, _inbox.LabReady, _inbox.VmSeen)
                : await Task.WhenAny(timer, _inbox.Stop, _inbox.LabReady);
            if (winner == timer)
            {
                return Woke.Timer;
            }

            cts.Cancel();
            if (winner == _inbox.Stop)
            {
                return Woke.Stop;
            }

            if (winner == _inbox.VmSeen)
            {
                return Woke.VmSeen;
            }

            TakeReport();
            return Woke.LabReady;
        }

        /// <summary>
        /// Takes a phone-home: a boot of the current VM raises the highest boot heard; a report naming another generation (a VM a
        /// reset replaced) is ignored.
        /// </summary>
        private void TakeReport()
        {
            if (_inbox.TakeLabReady() is { } report && report.Generation == _s.Generation && report.Boot > _s.Boot)
            {
                _s.Boot = report.Boot;
            }
        }

        private Task<bool> UpdateAsync(InstanceChange change) => ctx.CallActivityAsync<bool>(nameof(UpdateInstanceActivity), change, _retry);

        private void Step(string step, string message) => ctx.SetCustomStatus(new { step, message });

        private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

        private static string Describe(TaskFailedException ex) => ex.FailureDetails?.ErrorMessage ?? ex.Message;
    }

    /// <summary>
    /// Where a session is: its VMs (every one it was given, the label generation of the current one, the highest boot it reported) and,
    /// once running, its address and times. Carried across ContinueAsNew as <see cref="LiveSession"/>.
    /// </summary>
    private sealed class SessionState
    {
        public string? VmId { get; set; }
        public List<VmUsage> Vms { get; private init; } = [];
        public int Generation { get; set; } = 1;
        public int Boot { get; set; }
        public string? PublicIp { get; set; }
        public string? AccessUrl { get; set; }
        public DateTimeOffset StartedAt { get; set; }
        public DateTimeOffset ExpiresAt { get; set; }
        public DateTimeOffset MaxExpiresAt { get; set; }
        public int RestartCount { get; set; }
        public DateTimeOffset? WarnedFor { get; set; }
        public string? FirewallGroupId { get; set; }

        /// <summary>When to read the lab's activity next; null: it never goes idle.</summary>
        public DateTimeOffset? IdleCheckAt { get; set; }

        /// <summary>The last activity the learner was warned about (a later one earns a new warning).</summary>
        public DateTimeOffset? IdleWarnedFor { get; set; }

        public static SessionState From(LiveSession? live) => live is null ? new() : new()
        {
            VmId = live.VmId, Vms = [.. live.Vms], Generation = live.Generation, Boot = live.Boot, PublicIp = live.PublicIp, AccessUrl = live.AccessUrl,
            StartedAt = live.StartedAt, ExpiresAt = live.ExpiresAt, MaxExpiresAt = live.MaxExpiresAt, RestartCount = live.RestartCount, WarnedFor = live.WarnedFor,
            FirewallGroupId = live.FirewallGroupId, IdleCheckAt = live.IdleCheckAt, IdleWarnedFor = live.IdleWarnedFor,
        };

        public LiveSession ToLive() =>
            new(VmId!, PublicIp!, AccessUrl, StartedAt, ExpiresAt, MaxExpiresAt, RestartCount, [.. Vms], Generation, Boot, WarnedFor, FirewallGroupId, IdleCheckAt, IdleWarnedFor);
    }

    /// <summary>
    /// One pending wait per event name, kept across loop turns: an event is delivered to the first waiter of its
    /// name, so a fresh waiter per turn would leave an abandoned one to swallow the next event.
    /// </summary>
    private sealed class Inbox(TaskOrchestrationContext ctx)
    {
        private Task<StopRequest>? _stop;
        private Task<ExtendRequest>? _extend;
        private Task<bool>? _restart;
        private Task<bool>? _reset;
        private Task<LabReport>? _labReady;
        private Task<ClaimRequest>? _claim;
        private Task<LabHealthReport>? _health;
        private Task<VmSighting>? _vmSeen;

        public Task<StopRequest> Stop => _stop ??= ctx.WaitForExternalEvent<StopRequest>(LabEvents.Stop);
        public Task<ExtendRequest> Extend => _extend ??= ctx.WaitForExternalEvent<ExtendRequest>(LabEvents.Extend);
        public Task<bool> Restart => _restart ??= ctx.WaitForExternalEvent<bool>(LabEvents.Restart);
        public Task<bool> Reset => _reset ??= ctx.WaitForExternalEvent<bool>(LabEvents.Reset);
        public Task<LabReport> LabReady => _labReady ??= ctx.WaitForExternalEvent<LabReport>(LabEvents.LabReady);
        public Task<ClaimRequest> Claim => _claim ??= ctx.WaitForExternalEvent<ClaimRequest>(LabEvents.Claim);
        public Task<LabHealthReport> Health => _health ??= ctx.WaitForExternalEvent<LabHealthReport>(LabEvents.Health);
        public Task<VmSighting> VmSeen => _vmSeen ??= ctx.WaitForExternalEvent<VmSighting>(LabEvents.VmSeen);

        /// <summary>True when an event has arrived that the live loop has not handled yet.</summary>
        public bool HasPending =>
            Stop.IsCompleted || Extend.IsCompleted || Restart.IsCompleted || Reset.IsCompleted || LabReady.IsCompleted || Health.IsCompleted;

        public StopRequest TakeStop() => Take(ref _stop) ?? new StopRequest();

        public ExtendRequest TakeExtend() => Take(ref _extend) ?? new ExtendRequest(TimeSpan.Zero);

        public LabReport? TakeLabReady() => Take(ref _labReady);

        public ClaimRequest TakeClaim() => Take(ref _claim)!;

        public LabHealthReport? TakeHealth() => Take(ref _health);

        public VmSighting? TakeVmSeen() => Take(ref _vmSeen);

        public void TakeRestartOrReset(bool reset)
        {
            if (reset)
            {
                Take(ref _reset);
            }
            else
            {
                Take(ref _restart);
            }
        }

        private static T? Take<T>(ref Task<T>? task)
        {
            var result = task is { IsCompletedSuccessfully: true } t ? t.Result : default;
            task = null;
            return result;
        }
    }
}
