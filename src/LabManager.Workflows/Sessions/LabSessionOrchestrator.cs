using LabManager.Core.Instances;
using LabManager.Workflows.Instances;
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
    }

    /// <summary>The state of one execution (one generation between ContinueAsNew calls).</summary>
    private sealed class Run(TaskOrchestrationContext ctx, LabSessionInput input)
    {
        private readonly Inbox _inbox = new(ctx);

        private readonly TaskOptions _retry = TaskOptions.FromRetryPolicy(
            new RetryPolicy(5, input.Timings.RetryInterval, 2, TimeSpan.FromSeconds(30)));

        // Deleting is what stops the bill: keep trying for minutes before giving up to reconciliation.
        private readonly TaskOptions _destroyRetry = TaskOptions.FromRetryPolicy(
            new RetryPolicy(10, input.Timings.RetryInterval, 2, TimeSpan.FromSeconds(60)));

        private string? _vmId = input.Live?.VmId;
        private DateTimeOffset? _vmCreatedAt = input.Live?.VmCreatedAt;
        private List<TimeSpan> _earlierVms = [.. input.Live?.EarlierVmLifetimes ?? []];

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
                var live = input.Live;
                if (live is null)
                {
                    var (ending, started) = await StartAsync();
                    if (ending is not null)
                    {
                        return await EndAsync(ending);
                    }

                    live = started!;
                }

                var end = await LiveLoopAsync(live);
                return end is null ? new LabSessionResult(LabInstanceStatus.Running, null, false) : await EndAsync(end);
            }
            catch (TaskFailedException ex)
            {
                return await EndAsync(new Ending(LabInstanceStatus.Error, "The lab failed", Describe(ex)));
            }
        }

        private async Task<(Ending? Ending, LiveSession? Live)> StartAsync()
        {
            Step("creating-vm", "Creating the VM");
            VmSnapshot vm;
            try
            {
                vm = await ctx.CallActivityAsync<VmSnapshot>(nameof(CreateVmActivity), new CreateVmInput(input.InstanceId, input.LabId), _retry);
            }
            catch (TaskFailedException ex)
            {
                return (new Ending(LabInstanceStatus.Error, "The VM could not be created", "Creating the VM failed: " + Describe(ex)), null);
            }

            _vmId = vm.VmId;
            _vmCreatedAt = Now;
            if (!await UpdateAsync(new InstanceChange(input.InstanceId, Now)
            {
                Status = LabInstanceStatus.Provisioning,
                CloudInstanceId = vm.VmId,
                Message = "VM created, booting",
            }))
            {
                return (StopAskedFor(), null);
            }

            var up = await BringUpAsync();
            if (up.Ending is not null)
            {
                return (up.Ending, null);
            }

            // The step is committed with this episode, before the activity below makes the instance "running".
            Step("running", "Lab is ready");
            var now = Now;
            var live = new LiveSession(vm.VmId, up.Vm!.MainIp, up.AccessUrl, _vmCreatedAt.Value, now, now + input.SessionLength, now + input.MaxLifetime, 0, []);
            var goOn = await UpdateAsync(new InstanceChange(input.InstanceId, now)
            {
                Status = LabInstanceStatus.Running,
                Message = "Lab is ready",
                PublicIp = up.Vm.MainIp,
                InternalIp = up.Vm.InternalIp,
                AccessUrl = up.AccessUrl,
                StartedAt = now,
                ExpiresAt = live.ExpiresAt,
            });
            if (!goOn)
            {
                return (StopAskedFor(), null);
            }

            await ctx.CallActivityAsync<bool>(nameof(RecordProgressActivity), new ProgressInput(input.InstanceId, now), _retry);
            Log("Instance {InstanceId} running at {Url} until {ExpiresAt:o}", input.InstanceId, up.AccessUrl, live.ExpiresAt);
            return (null, live);
        }

        /// <summary>Waits for the VM to be usable, then for the lab to answer. Stop ends the wait.</summary>
        private async Task<BringUp> BringUpAsync()
        {
            var t = input.Timings;
            Step("waiting-for-vm", "Waiting for the VM to boot");
            var deadline = Now + t.ProvisioningDeadline;
            var delay = t.VmPollInitial;
            var vm = await ctx.CallActivityAsync<VmSnapshot>(nameof(GetVmActivity), _vmId!, _retry);
            while (!vm.Ready)
            {
                if (!vm.Exists)
                {
                    return Failed("The VM disappeared while booting");
                }

                if (Now >= deadline)
                {
                    return Failed($"The VM was not ready within {t.ProvisioningDeadline}: it stayed {vm.State}");
                }

                // The lab phoning home means the VM is up too: look at it again at once instead of after the next wait.
                if (await WaitAsync(Min(Now + delay, deadline), labReady: true) == Woke.Stop)
                {
                    return new BringUp(StoppedBy(), null, null);
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, t.VmPollMax.Ticks));
                vm = await ctx.CallActivityAsync<VmSnapshot>(nameof(GetVmActivity), _vmId!, _retry);
            }

            Step("waiting-for-lab", "Waiting for the lab to answer");
            var labDeadline = Now + t.LabReadyDeadline;
            var probe = await ProbeAsync(vm);
            while (!probe.Up)
            {
                if (Now >= labDeadline)
                {
                    return Failed($"The lab did not answer at {probe.AccessUrl} within {t.LabReadyDeadline}: {probe.Detail}");
                }

                switch (await WaitAsync(Min(Now + t.LabProbeInterval, labDeadline), labReady: true))
                {
                    case Woke.Stop:
                        return new BringUp(StoppedBy(), null, null);
                    case Woke.LabReady:
                        Log("Instance {InstanceId}: the lab phoned home", input.InstanceId);
                        return new BringUp(null, vm, probe.AccessUrl);
                }

                probe = await ProbeAsync(vm);
            }

            return new BringUp(null, vm, probe.AccessUrl);
        }

        private Task<ProbeLabResult> ProbeAsync(VmSnapshot vm) =>
            ctx.CallActivityAsync<ProbeLabResult>(nameof(ProbeLabActivity), new ProbeLabInput(input.LabId, vm.MainIp), _retry);

        /// <summary>Running: wait for the expiry or an event. Returns how it ended, or null after ContinueAsNew.</summary>
        private async Task<Ending?> LiveLoopAsync(LiveSession live)
        {
            // Events already delivered to this history are handled before ContinueAsNew: not every backend carries them over.
            for (var handled = 0; handled < input.Timings.EventsPerGeneration || _inbox.HasPending; handled++)
            {
                Step("running", $"Running until {live.ExpiresAt:o}");
                Task winner;
                bool timerFired;
                do
                {
                    // Timers may fire a little early on some backends: trust the clock, not the timer.
                    if (Now >= live.ExpiresAt)
                    {
                        return new Ending(LabInstanceStatus.Expired, "The session's time is up");
                    }

                    // Wake first for the expiry warning, once per expiry time (an extension earns a new one).
                    var warnAt = live.ExpiresAt - input.Timings.ExpiryWarning;
                    var warn = input.Timings.ExpiryWarning > TimeSpan.Zero && live.WarnedFor != live.ExpiresAt;
                    if (warn && Now >= warnAt)
                    {
                        await ctx.CallActivityAsync<bool>(nameof(NotifyExpiryActivity), new ExpiryWarning(input.InstanceId, live.ExpiresAt, Now), _retry);
                        live = live with { WarnedFor = live.ExpiresAt };
                        warn = false;
                    }

                    using var cts = new CancellationTokenSource();
                    var timer = ctx.CreateTimer((warn ? warnAt : live.ExpiresAt).UtcDateTime, cts.Token);
                    winner = await Task.WhenAny(timer, _inbox.Stop, _inbox.Extend, _inbox.Restart, _inbox.Reset, _inbox.LabReady);
                    timerFired = winner == timer;
                    if (!timerFired)
                    {
                        cts.Cancel();
                    }
                }
                // A timer (the warning or the expiry) only sends the loop round to look at the clock again.
                while (timerFired || (winner == _inbox.LabReady && _inbox.TakeLabReady()));

                if (winner == _inbox.Stop)
                {
                    return StoppedBy();
                }

                if (winner == _inbox.Extend)
                {
                    live = await ExtendAsync(live, _inbox.TakeExtend());
                }
                else
                {
                    var reset = winner == _inbox.Reset;
                    _inbox.TakeRestartOrReset(reset);
                    var (ending, next) = await RebuildAsync(live, reset);
                    if (ending is not null)
                    {
                        return ending;
                    }

                    live = next!;
                }
            }

            Log("Instance {InstanceId}: continuing as new to keep the history short", input.InstanceId);
            ctx.ContinueAsNew(input with { Live = live }, preserveUnprocessedEvents: true);
            return null;
        }

        private async Task<LiveSession> ExtendAsync(LiveSession live, ExtendRequest request)
        {
            if (request.By <= TimeSpan.Zero)
            {
                return live;
            }

            var expires = Min(live.ExpiresAt + request.By, live.MaxExpiresAt);
            var capped = expires == live.MaxExpiresAt;
            await UpdateAsync(new InstanceChange(input.InstanceId, Now)
            {
                ExpiresAt = expires,
                Message = capped ? $"Extended to the maximum lifetime, until {expires:o}" : $"Extended until {expires:o}",
            });
            return live with { ExpiresAt = expires };
        }

        /// <summary>Restart reboots the VM; Reset replaces it with a fresh one. Either way the lab is awaited again.</summary>
        private async Task<(Ending? Ending, LiveSession? Live)> RebuildAsync(LiveSession live, bool reset)
        {
            var restarts = live.RestartCount + 1;
            await UpdateAsync(new InstanceChange(input.InstanceId, Now)
            {
                Status = LabInstanceStatus.Provisioning,
                RestartCount = restarts,
                Message = reset ? "Resetting the lab on a fresh VM" : "Restarting the VM",
            });
            if (reset)
            {
                Step("replacing-vm", "Destroying the old VM");
                await ctx.CallActivityAsync<bool>(nameof(DestroyVmActivity), new DestroyVmInput(input.InstanceId, _vmId), _destroyRetry);
                _earlierVms.Add(Now - _vmCreatedAt!.Value);
                _vmId = null;
                var vm = await ctx.CallActivityAsync<VmSnapshot>(nameof(CreateVmActivity), new CreateVmInput(input.InstanceId, input.LabId), _retry);
                _vmId = vm.VmId;
                _vmCreatedAt = Now;
                await UpdateAsync(new InstanceChange(input.InstanceId, Now) { CloudInstanceId = vm.VmId });
            }
            else
            {
                await ctx.CallActivityAsync<bool>(nameof(RebootVmActivity), _vmId!, _retry);
            }

            var up = await BringUpAsync();
            if (up.Ending is not null)
            {
                return (up.Ending, null);
            }

            Step("running", "Lab is ready");
            await UpdateAsync(new InstanceChange(input.InstanceId, Now)
            {
                Status = LabInstanceStatus.Running,
                Message = reset ? "Lab reset and ready" : "Lab restarted and ready",
                PublicIp = up.Vm!.MainIp,
                InternalIp = up.Vm.InternalIp,
                AccessUrl = up.AccessUrl,
            });
            return (null, live with
            {
                VmId = _vmId!,
                PublicIp = up.Vm.MainIp,
                AccessUrl = up.AccessUrl,
                VmCreatedAt = _vmCreatedAt!.Value,
                RestartCount = restarts,
                EarlierVmLifetimes = [.. _earlierVms],
            });
        }

        /// <summary>Destroys the VM (confirmed), then records how the session ended.</summary>
        private async Task<LabSessionResult> EndAsync(Ending ending)
        {
            Step("stopping", ending.Message);
            await UpdateAsync(new InstanceChange(input.InstanceId, Now) { Status = LabInstanceStatus.Stopping, Message = ending.Message });

            var destroyed = true;
            try
            {
                await ctx.CallActivityAsync<bool>(nameof(DestroyVmActivity), new DestroyVmInput(input.InstanceId, _vmId), _destroyRetry);
            }
            catch (TaskFailedException ex)
            {
                destroyed = false;
                ending = new Ending(LabInstanceStatus.Error, ending.Message,
                    $"The VM {_vmId} could not be destroyed ({Describe(ex)}); reconciliation will remove it");
            }

            var now = Now;
            if (_vmCreatedAt is { } created && destroyed)
            {
                _earlierVms.Add(now - created);
            }

            await UpdateAsync(new InstanceChange(input.InstanceId, now) { Status = ending.Status, Message = ending.Message, ErrorMessage = ending.Error });
            await ctx.CallActivityAsync<bool>(nameof(RecordProgressActivity),
                new ProgressInput(input.InstanceId, now, ending.Status.ToWire(), [.. _earlierVms]), _retry);
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

        private static BringUp Failed(string error) => new(new Ending(LabInstanceStatus.Error, "The lab could not be started", error), null, null);

        private async Task<Woke> WaitAsync(DateTimeOffset until, bool labReady)
        {
            using var cts = new CancellationTokenSource();
            var timer = ctx.CreateTimer(until.UtcDateTime, cts.Token);
            var winner = labReady
                ? await Task.WhenAny(timer, _inbox.Stop, _inbox.LabReady)
                : await Task.WhenAny(timer, _inbox.Stop);
            if (winner == timer)
            {
                return Woke.Timer;
            }

            cts.Cancel();
            if (winner == _inbox.Stop)
            {
                return Woke.Stop;
            }

            _inbox.TakeLabReady();
            return Woke.LabReady;
        }

        private Task<bool> UpdateAsync(InstanceChange change) => ctx.CallActivityAsync<bool>(nameof(UpdateInstanceActivity), change, _retry);

        private void Step(string step, string message) => ctx.SetCustomStatus(new { step, message });

        private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

        private static string Describe(TaskFailedException ex) => ex.FailureDetails?.ErrorMessage ?? ex.Message;
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
        private Task<bool>? _labReady;

        public Task<StopRequest> Stop => _stop ??= ctx.WaitForExternalEvent<StopRequest>(LabEvents.Stop);
        public Task<ExtendRequest> Extend => _extend ??= ctx.WaitForExternalEvent<ExtendRequest>(LabEvents.Extend);
        public Task<bool> Restart => _restart ??= ctx.WaitForExternalEvent<bool>(LabEvents.Restart);
        public Task<bool> Reset => _reset ??= ctx.WaitForExternalEvent<bool>(LabEvents.Reset);
        public Task<bool> LabReady => _labReady ??= ctx.WaitForExternalEvent<bool>(LabEvents.LabReady);

        /// <summary>True when an event has arrived that the live loop has not handled yet.</summary>
        public bool HasPending =>
            Stop.IsCompleted || Extend.IsCompleted || Restart.IsCompleted || Reset.IsCompleted || LabReady.IsCompleted;

        public StopRequest TakeStop() => Take(ref _stop) ?? new StopRequest();

        public ExtendRequest TakeExtend() => Take(ref _extend) ?? new ExtendRequest(TimeSpan.Zero);

        /// <summary>Consumes a stale LabReady (the lab was already found up); always true.</summary>
        public bool TakeLabReady()
        {
            Take(ref _labReady);
            return true;
        }

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
