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
    private readonly Dictionary<string, (Vm Vm, DateTimeOffset At)> _dying = [];
    private readonly int _subnet = 20 + (Interlocked.Increment(ref s_nextSubnet) % 230);
    private int _nextHost;

    public EmulatorOptions Options { get; } = options.Value;
    public TimeProvider Time { get; } = time;
    private readonly Lock _drawLock = new();
    private FaultSettings _faults = options.Value.Faults;
    private Random _draws = DrawsOf(options.Value.Faults);

    /// <summary>The faults injected now; setting them starts their random draws again (from <see cref="FaultSettings.Seed"/> when set).</summary>
    public FaultSettings Faults
    {
        get => _faults;
        set
        {
            lock (_drawLock)
            {
                (_faults, _draws) = (value, DrawsOf(value));
            }
        }
    }
    public Dictionary<string, FirewallGroup> Firewalls { get; } = [];
    public Lock FirewallLock { get; } = new();
    public ConcurrentDictionary<string, int> Creates { get; } = new();
    public ConcurrentQueue<DeletedVm> Deleted { get; } = new();
    /// <summary>Calls by kind (<see cref="EmulatorMiddleware.KindOf"/>), and the faults injected: answered_429, answered_5xx, create_answer_lost, vm_stuck.</summary>
    public ConcurrentDictionary<string, int> Requests { get; } = new();

    /// <summary>Whether a fault of this rate strikes now. A rate of 0 draws nothing, so a seeded run's draws go to the faults it turned on.</summary>
    public bool Strikes(double rate)
    {
        if (rate <= 0)
        {
            return false;
        }

        lock (_drawLock)
        {
            return _draws.NextDouble() < rate;
        }
    }

    private static Random DrawsOf(FaultSettings faults) => faults.Seed is { } seed ? new Random(seed) : new Random();

    /// <summary>Adds one to <see cref="Requests"/>[<paramref name="kind"/>].</summary>
    public void Count(string kind) => Requests.AddOrUpdate(kind, 1, (_, n) => n + 1);
    public RequestRate Rate { get; } = new(time);

    public Vm Create(string label, string hostname, string region, string plan, BootSource source, List<string> tags, string userData)
    {
        var now = Time.GetUtcNow();
        var (onceUrl, perBootUrl) = PhoneHomeUrls(userData);
        var vm = new Vm
        {
            Id = Guid.NewGuid().ToString(),
            Label = label,
            Hostname = hostname,
            Region = region,
            Plan = plan,
            OsId = source.OsId,
            ImageId = source.ImageId,
            AppId = source.AppId,
            Tags = tags,
            UserData = userData,
            DateCreated = now,
            MainIp = NextIp(),
            DefaultPassword = Convert.ToBase64String(Guid.NewGuid().ToByteArray())[..16],
            Stuck = Strikes(Faults.StuckRate),
            Locked = Strikes(Faults.LockedRate),
            LabPorts = PublishedPorts(userData),
            Containers = AgentEmulation.Containers(userData),
            Agent = AgentEmulation.Find(userData),
            OnceUrl = onceUrl,
            PerBootUrl = perBootUrl,
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

        if (vm.Locked)
        {
            Count("vm_locked");
        }

        return vm;
    }

    /// <summary>A VM as the API shows it: live, or deleted but still listed for <see cref="EmulatorOptions.DeletedVisibleSeconds"/>.</summary>
    public Vm? Get(string id)
    {
        lock (_lock)
        {
            return _vms.GetValueOrDefault(id) ?? (_dying.TryGetValue(id, out var d) && StillVisible(d.At) ? d.Vm : null);
        }
    }

    /// <summary>Every VM the API lists: live ones and deleted ones still visible.</summary>
    public List<Vm> All()
    {
        lock (_lock)
        {
            return [.. _vms.Values.Concat(_dying.Values.Where(d => StillVisible(d.At)).Select(d => d.Vm))
                .OrderBy(v => v.DateCreated).ThenBy(v => v.Id, StringComparer.Ordinal)];
        }
    }

    /// <summary>The VMs that exist (not deleted): what runs lab apps and what inspection reports.</summary>
    public List<Vm> Live()
    {
        lock (_lock)
        {
            return [.. _vms.Values.OrderBy(v => v.DateCreated).ThenBy(v => v.Id, StringComparer.Ordinal)];
        }
    }

    /// <summary>Deletes the VM, as Vultr does: refused while it is locked; a VM being deleted answers as deleted again.</summary>
    public DeleteOutcome Delete(string id)
    {
        lock (_lock)
        {
            if (!_vms.TryGetValue(id, out var vm))
            {
                return _dying.TryGetValue(id, out var d) && StillVisible(d.At) ? DeleteOutcome.Deleted : DeleteOutcome.NotFound;
            }

            if (Options.RefuseWhileLocked && StateOf(vm).ServerStatus == "locked")
            {
                Count("refused_locked");
                return DeleteOutcome.Locked;
            }

            var now = Time.GetUtcNow();
            _vms.Remove(id);
            _dying[id] = (vm, now);
            foreach (var gone in _dying.Where(kv => !StillVisible(kv.Value.At)).Select(kv => kv.Key).ToList())
            {
                _dying.Remove(gone);
            }

            Deleted.Enqueue(new DeletedVm(vm.Id, vm.Label, now, vm.DateCreated, vm.LabUpAt, vm.Stuck));
            return DeleteOutcome.Deleted;
        }
    }

    /// <summary>Removes the VM at once, whatever its state (not counted as a deletion through the API).</summary>
    public bool Remove(string id)
    {
        lock (_lock)
        {
            return _vms.Remove(id);
        }
    }

    private bool StillVisible(DateTimeOffset deletedAt) => (Time.GetUtcNow() - deletedAt).TotalSeconds < Options.DeletedVisibleSeconds;

    public void SetLifecycle(Vm vm, LifecycleEvent e)
    {
        lock (_lock)
        {
            var before = StateOf(vm);
            vm.UpBeforeReboot = before.LabUp && !vm.LabCrashed;
            // A boot starts every container again (Docker's restart policy).
            foreach (var c in vm.Containers)
            {
                (c.State, c.ExitCode, c.KeepsFailing) = ("running", 0, false);
            }

            // A reinstall wipes the disk: the boot counter starts again, and the user_data runs again.
            vm.BootsBefore = e == LifecycleEvent.Reinstalled ? 0 : before.Boot;
            if (e == LifecycleEvent.Reinstalled)
            {
                vm.PhonedBoot = 0;
                vm.PhonedOnce = false;
            }

            vm.Lifecycle = e;
            vm.LifecycleAt = Time.GetUtcNow();
        }
    }

    public VmState StateOf(Vm vm) => Lifecycle.StateOf(vm, Time.GetUtcNow(), Options);

    /// <summary>The VM as the API answers it.</summary>
    public object Show(Vm vm, bool withPassword = false) => Json.Instance(vm, StateOf(vm), Options.AccountOffset, withPassword);

    // Each emulator gets its own 127.x.0.0/16 so VMs' lab apps never share an address:port.
    private string NextIp()
    {
        var n = Interlocked.Increment(ref _nextHost);
        return string.Create(CultureInfo.InvariantCulture, $"127.{_subnet}.{(n / 250) % 250}.{(n % 250) + 1}");
    }

    [GeneratedRegex(@"(?:^|\s)(?:-p|--publish)[ =]'?(?:[0-9.]+:)?(\d{1,5}):(\d{1,5})(?:/(tcp|udp))?'?")]
    private static partial Regex PublishPattern();

    [GeneratedRegex(@"curl [^\n]*-X POST[^\n]*'(https?://[^']+)'(""\$\w+"")?")]
    private static partial Regex PhoneHomePattern();

    [GeneratedRegex(@"cat > '?/var/lib/cloud/scripts/per-boot/[^\s']+'? <<'(\w+)'\n(.*?)\n\1\n", RegexOptions.Singleline)]
    private static partial Regex PerBootScriptPattern();

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

    /// <summary>
    /// Emulates what cloud-init runs: the user_data script once, on the first boot; a script it writes to
    /// <c>/var/lib/cloud/scripts/per-boot/</c> at every boot (the user_data runs it itself on the first). A phone-home URL followed
    /// by a shell variable (<c>'…&amp;boot='"$n"</c>) gets the boot number appended.
    /// </summary>
    private static (string? Once, string? PerBoot) PhoneHomeUrls(string userData)
    {
        string? perBoot = null;
        foreach (Match script in PerBootScriptPattern().Matches(userData))
        {
            var m = PhoneHomePattern().Match(script.Groups[2].Value);
            perBoot ??= m.Success ? m.Groups[1].Value : null;
        }

        var once = PhoneHomePattern().Match(PerBootScriptPattern().Replace(userData, ""));
        return (once.Success ? once.Groups[1].Value : null, perBoot);
    }

    /// <summary>
    /// Whether the VM's firewall lets a TCP connection from <paramref name="source"/> reach <paramref name="port"/>, as Vultr's does: a VM in
    /// no group accepts everyone; in a group, only what an accept rule admits (a group that no longer exists admits nothing).
    /// </summary>
    public bool Admits(Vm vm, System.Net.IPAddress source, int port)
    {
        if (vm.FirewallGroupId.Length == 0)
        {
            return true;
        }

        if (source.IsIPv4MappedToIPv6)
        {
            source = source.MapToIPv4();
        }

        lock (FirewallLock)
        {
            return Firewalls.TryGetValue(vm.FirewallGroupId, out var group) && group.Rules.Any(r => r.Admits(source, "tcp", port));
        }
    }

    public static string DecodeUserData(string base64) => Encoding.UTF8.GetString(Convert.FromBase64String(base64));
}

/// <summary>A VM deleted through the API, and when; <see cref="Stuck"/>: it was made never to finish booting.</summary>
public sealed record DeletedVm(string Id, string Label, DateTimeOffset DeletedAt, DateTimeOffset CreatedAt, DateTimeOffset? LabUpAt, bool Stuck);

/// <summary>What a DELETE did.</summary>
internal enum DeleteOutcome
{
    Deleted,
    NotFound,
    Locked,
}

/// <summary>What a VM boots from: an OS, a marketplace image or a one-click application.</summary>
internal sealed record BootSource(int OsId, string ImageId, int AppId);

/// <summary>A firewall group and its rules.</summary>
internal sealed class FirewallGroup
{
    public required string Id { get; init; }
    public required string Description { get; set; }
    public required DateTimeOffset DateCreated { get; init; }
    public DateTimeOffset DateModified { get; set; }
    public List<FirewallRule> Rules { get; } = [];
    private int _nextRuleId;

    /// <summary>Vultr's <c>max_rule_count</c>.</summary>
    public const int MaxRules = 50;

    public int NextRuleId() => ++_nextRuleId;
}

internal sealed record FirewallRule(int Id, string IpType, string Action, string Protocol, string Port, string Subnet, int SubnetSize, string Source, string Notes)
{
    /// <summary>The rule admits this source on this protocol and port (<c>port</c> "80", "8000:8100", or "" for every port).</summary>
    public bool Admits(System.Net.IPAddress source, string protocol, int port)
    {
        if (Protocol != protocol || !System.Net.IPAddress.TryParse(Subnet, out var subnet) || subnet.AddressFamily != source.AddressFamily)
        {
            return false;
        }

        var range = Port.Split(':');
        var inRange = Port.Length == 0
            || (int.TryParse(range[0], CultureInfo.InvariantCulture, out var low) && port >= low
                && port <= (range.Length > 1 && int.TryParse(range[1], CultureInfo.InvariantCulture, out var high) ? high : low));
        return inRange && SamePrefix(subnet.GetAddressBytes(), source.GetAddressBytes(), SubnetSize);
    }

    private static bool SamePrefix(byte[] a, byte[] b, int bits)
    {
        for (var i = 0; bits > 0; i++, bits -= 8)
        {
            var mask = bits >= 8 ? 0xFF : 0xFF << (8 - bits) & 0xFF;
            if ((a[i] & mask) != (b[i] & mask))
            {
                return false;
            }
        }

        return true;
    }
}

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
