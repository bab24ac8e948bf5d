using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace LabManager.VultrEmulator;

/// <summary>The emulated account: VMs, firewall groups, faults and the counters tests inspect.</summary>
internal sealed partial class Cloud(IOptions<EmulatorOptions> options, TimeProvider time)
{
    private static int s_nextSubnet = Random.Shared.Next(0, 200);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Vm> _vms = [];
    private readonly int _subnet = 20 + (Interlocked.Increment(ref s_nextSubnet) % 230);
    private int _nextHost;

    public EmulatorOptions Options { get; } = options.Value;
    public TimeProvider Time { get; } = time;
    public FaultSettings Faults { get; set; } = options.Value.Faults;
    public Dictionary<string, FirewallGroup> Firewalls { get; } = [];
    public Lock FirewallLock { get; } = new();
    public ConcurrentDictionary<string, int> Creates { get; } = new();
    public ConcurrentQueue<DeletedVm> Deleted { get; } = new();
    /// <summary>Calls by kind (<see cref="EmulatorMiddleware.KindOf"/>), and the faults injected: answered_429, answered_5xx, create_answer_lost, vm_stuck.</summary>
    public ConcurrentDictionary<string, int> Requests { get; } = new();

    /// <summary>Adds one to <see cref="Requests"/>[<paramref name="kind"/>].</summary>
    public void Count(string kind) => Requests.AddOrUpdate(kind, 1, (_, n) => n + 1);
    public RequestRate Rate { get; } = new(time);

    public Vm Create(string label, string hostname, string region, string plan, int osId, List<string> tags, string userData)
    {
        var now = Time.GetUtcNow();
        var vm = new Vm
        {
            Id = Guid.NewGuid().ToString(),
            Label = label,
            Hostname = hostname,
            Region = region,
            Plan = plan,
            OsId = osId,
            Tags = tags,
            UserData = userData,
            DateCreated = now,
            MainIp = NextIp(),
            DefaultPassword = Convert.ToBase64String(Guid.NewGuid().ToByteArray())[..16],
            Stuck = Random.Shared.NextDouble() < Faults.StuckRate,
            LabPorts = PublishedPorts(userData),
            PhoneHomeUrl = PhoneHomeUrl(userData),
            LifecycleAt = now,
        };
        lock (_lock)
        {
            _vms[vm.Id] = vm;
        }

        Creates.AddOrUpdate(label, 1, (_, n) => n + 1);
        if (vm.Stuck)
        {
            Count("vm_stuck");
        }

        return vm;
    }

    public Vm? Get(string id)
    {
        lock (_lock)
        {
            return _vms.GetValueOrDefault(id);
        }
    }

    public List<Vm> All()
    {
        lock (_lock)
        {
            return [.. _vms.Values.OrderBy(v => v.DateCreated).ThenBy(v => v.Id, StringComparer.Ordinal)];
        }
    }

    public Vm? Delete(string id)
    {
        lock (_lock)
        {
            if (!_vms.Remove(id, out var vm))
            {
                return null;
            }

            Deleted.Enqueue(new DeletedVm(vm.Id, vm.Label, Time.GetUtcNow(), vm.DateCreated, vm.LabUpAt));
            return vm;
        }
    }

    public void SetLifecycle(Vm vm, LifecycleEvent e)
    {
        lock (_lock)
        {
            vm.Lifecycle = e;
            vm.LifecycleAt = Time.GetUtcNow();
            vm.PhonedHome = false;
        }
    }

    public VmState StateOf(Vm vm) => Lifecycle.StateOf(vm, Time.GetUtcNow(), Options);

    // Each emulator gets its own 127.x.0.0/16 so VMs' lab apps never share an address:port.
    private string NextIp()
    {
        var n = Interlocked.Increment(ref _nextHost);
        return string.Create(CultureInfo.InvariantCulture, $"127.{_subnet}.{(n / 250) % 250}.{(n % 250) + 1}");
    }

    [GeneratedRegex(@"(?:^|\s)(?:-p|--publish)[ =]'?(?:[0-9.]+:)?(\d{1,5}):(\d{1,5})(?:/(tcp|udp))?'?")]
    private static partial Regex PublishPattern();

    [GeneratedRegex(@"curl [^\n]*-X POST[^\n]*'(https?://[^']+)'")]
    private static partial Regex PhoneHomePattern();

    /// <summary>Emulates running the user_data: the TCP ports its containers publish, or 80 when it names none.</summary>
    private static List<int> PublishedPorts(string userData)
    {
        var ports = PublishPattern().Matches(userData)
            .Where(m => m.Groups[3].Value is "" or "tcp")
            .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
            .Where(p => p is > 0 and < 65536)
            .Distinct()
            .ToList();
        return ports.Count > 0 ? ports : [80];
    }

    private static string? PhoneHomeUrl(string userData)
    {
        var m = PhoneHomePattern().Match(userData);
        return m.Success ? m.Groups[1].Value : null;
    }

    public static string DecodeUserData(string base64) => Encoding.UTF8.GetString(Convert.FromBase64String(base64));
}

/// <summary>A VM deleted through the API, and when.</summary>
public sealed record DeletedVm(string Id, string Label, DateTimeOffset DeletedAt, DateTimeOffset CreatedAt, DateTimeOffset? LabUpAt);

/// <summary>A firewall group and its rules.</summary>
internal sealed class FirewallGroup
{
    public required string Id { get; init; }
    public required string Description { get; set; }
    public required DateTimeOffset DateCreated { get; init; }
    public DateTimeOffset DateModified { get; set; }
    public List<FirewallRule> Rules { get; } = [];
    private int _nextRuleId;

    public int NextRuleId() => ++_nextRuleId;
}

internal sealed record FirewallRule(int Id, string IpType, string Action, string Protocol, string Port, string Subnet, int SubnetSize, string Source, string Notes);

/// <summary>Counts requests in one-second windows: the current rate, for the 429 limit, and the peak.</summary>
internal sealed class RequestRate(TimeProvider time)
{
    private readonly Lock _lock = new();
    private long _second;
    private int _count;

    public int Peak { get; private set; }

    /// <summary>Counts one request; returns how many arrived in this second so far, this one included.</summary>
    public int Hit()
    {
        var second = time.GetUtcNow().ToUnixTimeSeconds();
        lock (_lock)
        {
            if (second != _second)
            {
                _second = second;
                _count = 0;
            }

            _count++;
            Peak = Math.Max(Peak, _count);
            return _count;
        }
    }
}
