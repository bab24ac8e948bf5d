using LabManager.Core.Instances;
using LabManager.Workflows.Readiness;
using LabManager.Workflows.Sessions;
using LabManager.Workflows.Vm;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using Moq.Protected;

namespace LabManager.Workflows.Tests;

/// <summary>
/// <see cref="LabSessionOrchestrator"/> on a scripted <see cref="TaskOrchestrationContext"/> (Moq): activities answer from
/// <see cref="Activities"/>, the clock moves only when the test fires a timer, and events arrive when the test raises them; each
/// call returns once the orchestrator waits again. No engine, no I/O, no sleeps: each branch runs in milliseconds.
/// </summary>
public sealed class ScriptedSession
{
    private readonly Mock<TaskOrchestrationContext> _context = new() { CallBase = true };
    private readonly List<(DateTime At, TaskCompletionSource Done)> _timers = [];
    private readonly Dictionary<string, Action<object?>> _waiters = [];
    private readonly Dictionary<string, Queue<object?>> _early = [];
    private readonly object _gate = new();
    private Task<LabSessionResult>? _run;

    public ScriptedSession(LabSessionInput input)
    {
        Input = input;
        _context.SetupGet(c => c.CurrentUtcDateTime).Returns(() => Now);
        _context.SetupGet(c => c.IsReplaying).Returns(false);
        _context.Protected().SetupGet<ILoggerFactory>("LoggerFactory").Returns(NullLoggerFactory.Instance);
        _context.Setup(c => c.SetCustomStatus(It.IsAny<object?>())).Callback((object? status) => Step = status?.GetType().GetProperty("step")?.GetValue(status) as string);
        _context.Setup(c => c.ContinueAsNew(It.IsAny<object?>(), It.IsAny<bool>())).Callback((object? next, bool _) => ContinuedWith = (LabSessionInput?)next);
        _context.Setup(c => c.CreateTimer(It.IsAny<DateTime>(), It.IsAny<CancellationToken>())).Returns((DateTime at, CancellationToken ct) => Timer(at, ct));
        Activity<bool>();
        Activity<VmSnapshot>();
        Activity<ProbeLabResult>();
        Event<StopRequest>();
        Event<ExtendRequest>();
        Event<bool>();
        Event<LabReport>();
        Event<ClaimRequest>();
        Event<LabHealthReport>();
        Event<VmSighting>();
    }

    public static readonly DateTime Start = new(2026, 12, 1, 12, 0, 0, DateTimeKind.Utc);

    public LabSessionInput Input { get; }

    public DateTime Now { get; private set; } = Start;

    /// <summary>Answers each activity call (name, input): a value, or an exception for a failed activity.</summary>
    public Func<string, object?, object?> Activities { get; set; } = (_, _) => true;

    /// <summary>Every activity call, in order.</summary>
    public List<(string Name, object? Input)> Calls { get; } = [];

    public string? Step { get; private set; }

    public LabSessionInput? ContinuedWith { get; private set; }

    public Task<LabSessionResult> Result => _run ?? throw new InvalidOperationException("Not started");

    /// <summary>
    /// Starts the orchestrator; it runs until it waits for a timer or an event (or ends). Started without a synchronization context,
    /// its continuations run inline where the script completes what they wait for, so each step of the script is synchronous.
    /// </summary>
    public Task StartAsync()
    {
        Resume(() => _run = new LabSessionOrchestrator().RunAsync(_context.Object, Input));
        return Task.CompletedTask;
    }

    /// <summary>Runs the orchestrator's code inline, without the test framework's context, so it never captures one.</summary>
    private static void Resume(Action step)
    {
        var context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            step();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(context);
        }
    }

    /// <summary>Fires the earliest pending timer (the clock moves to it), then waits until the orchestrator waits again.</summary>
    public Task FireTimerAsync()
    {
        (DateTime At, TaskCompletionSource Done) next;
        lock (_gate)
        {
            next = _timers.OrderBy(t => t.At).First();
            _timers.Remove(next);
        }

        Now = next.At > Now ? next.At : Now;
        Resume(() => next.Done.TrySetResult());
        return Task.CompletedTask;
    }

    /// <summary>Fires timers until the orchestrator ends (at most <paramref name="max"/>).</summary>
    public async Task<LabSessionResult> RunToEndAsync(int max = 1000)
    {
        for (var i = 0; i < max && !Result.IsCompleted; i++)
        {
            await FireTimerAsync();
        }

        return await Result;
    }

    /// <summary>Raises an external event, then waits until the orchestrator waits again.</summary>
    public Task RaiseAsync(string name, object? payload)
    {
        Raise(name, payload);
        return Task.CompletedTask;
    }

    /// <summary>Delivers an external event now; from inside an activity's answer, it arrives while the orchestrator is busy.</summary>
    public void Raise(string name, object? payload)
    {
        lock (_gate)
        {
            if (_waiters.Remove(name, out var deliver))
            {
                Resume(() => deliver(payload));
            }
            else
            {
                (_early.TryGetValue(name, out var queue) ? queue : _early[name] = new Queue<object?>()).Enqueue(payload);
            }
        }
    }

    public IEnumerable<T> Inputs<T>(string activity) => Calls.Where(c => c.Name == activity).Select(c => (T)c.Input!);

    private void Activity<T>() =>
        _context.Setup(c => c.CallActivityAsync<T>(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Returns((TaskName name, object? input, TaskOptions? _) =>
            {
                lock (_gate)
                {
                    Calls.Add((name.Name, input));
                }

                return Activities(name.Name, input) switch
                {
                    Exception ex => Task.FromException<T>(new TaskFailedException(name.Name, Calls.Count, TaskFailureDetails.FromException(ex))),
                    var value => Task.FromResult((T)value!),
                };
            });

    private void Event<T>() =>
        _context.Setup(c => c.WaitForExternalEvent<T>(It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .Returns((string name, CancellationToken _) =>
            {
                var arrived = new TaskCompletionSource<T>();
                lock (_gate)
                {
                    if (_early.TryGetValue(name, out var queue) && queue.Count > 0)
                    {
                        arrived.SetResult((T)queue.Dequeue()!);
                    }
                    else
                    {
                        _waiters[name] = payload => arrived.TrySetResult((T)payload!);
                    }
                }

                return arrived.Task;
            });

    private Task Timer(DateTime at, CancellationToken cancellation)
    {
        var done = new TaskCompletionSource();
        lock (_gate)
        {
            _timers.Add((at, done));
        }

        cancellation.Register(() =>
        {
            lock (_gate)
            {
                _timers.RemoveAll(t => t.Done == done);
            }

            done.TrySetCanceled();
        });
        return done.Task;
    }
}
