using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace LabManager.Core.Instances;

/// <summary>The agent every lab VM runs (installed by cloud-init) and what LabManager does with its heartbeats. Section <c>Agent</c>.</summary>
public sealed class AgentOptions
{
    public const string Section = "Agent";

    /// <summary>How often the agent reports (its systemd timer); zero: no agent is installed.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Heartbeats of one instance closer together than this are refused (429) and nothing is stored.</summary>
    public TimeSpan MinInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A running lab whose agent has been silent this many intervals is reported to operators and reconciled.</summary>
    public int SilentIntervals { get; set; } = 3;

    /// <summary>
    /// Network bytes (in and out, every container) between two heartbeats that count as the learner working on the lab, for labs whose
    /// traffic does not all pass the gateway (TCP ports, or direct access); zero: heartbeats never count as activity.
    /// </summary>
    public long ActivityBytes { get; set; } = 4096;

    public TimeSpan SilentAfter => Interval * SilentIntervals;
}

/// <summary>
/// A heartbeat's body, as the agent builds it from <c>docker inspect</c>, <c>docker stats</c> and <c>docker logs</c> (the values are
/// Docker's own strings). Sent by the VM, so untrusted: unknown fields are refused, and <see cref="Problems"/> bounds everything else.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record HeartbeatBody(int Boot, List<AgentContainer>? Containers, List<AgentStats>? Stats, List<AgentLog>? Logs, List<string>? Restarted)
{
    public const int MaxBodyBytes = 64 * 1024;
    public const int MaxContainers = 32;

    /// <summary>Log bytes (decoded) a heartbeat may carry in all: the tail of each container's log.</summary>
    public const int MaxLogBytes = 32 * 1024;

    /// <summary>Lines kept of each container's log.</summary>
    public const int MaxLogLines = 200;

    /// <summary>What is wrong with this body; empty when it can be stored.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (Boot is < 0 or > 1_000_000)
        {
            problems.Add("boot must be a whole number from 0 to 1000000");
        }

        var containers = Containers ?? [];
        if (containers.Count > MaxContainers || (Stats?.Count ?? 0) > MaxContainers || (Logs?.Count ?? 0) > MaxContainers || (Restarted?.Count ?? 0) > MaxContainers)
        {
            problems.Add($"at most {MaxContainers} containers");
            return problems;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (c, i) in containers.Select((c, i) => (c, i)))
        {
            if (!LabAgent.IsName(c.Name) || !names.Add(LabAgent.Name(c.Name)))
            {
                problems.Add($"containers[{i}].name must be a container name, once");
            }

            if (c.State is not ("created" or "running" or "paused" or "restarting" or "removing" or "exited" or "dead"))
            {
                problems.Add($"containers[{i}].state must be a Docker container state");
            }

            if (c.Health is not (null or "" or "starting" or "healthy" or "unhealthy"))
            {
                problems.Add($"containers[{i}].health must be starting, healthy or unhealthy");
            }

            if (c.ExitCode is < -1 or > 255 || c.Restarts is < 0 or > 1_000_000)
            {
                problems.Add($"containers[{i}]: exitCode must be -1..255 and restarts 0..1000000");
            }
        }

        foreach (var (s, i) in (Stats ?? []).Select((s, i) => (s, i)))
        {
            if (!names.Contains(LabAgent.Name(s.Name ?? "")) || LabAgent.Percent(s.Cpu) is null || LabAgent.Pair(s.Mem) is null || LabAgent.Pair(s.Net) is null)
            {
                problems.Add($"stats[{i}] must name a reported container, with cpu like 1.5%, mem like 20MiB / 1GiB and net like 1kB / 2kB");
            }
        }

        var logBytes = 0;
        foreach (var (l, i) in (Logs ?? []).Select((l, i) => (l, i)))
        {
            var bytes = names.Contains(LabAgent.Name(l.Name ?? "")) ? LabAgent.Decode(l.Tail) : null;
            if (bytes is null)
            {
                problems.Add($"logs[{i}] must name a reported container, with its tail in base64");
            }

            logBytes += bytes?.Length ?? 0;
        }

        if (logBytes > MaxLogBytes)
        {
            problems.Add($"logs may carry at most {MaxLogBytes} bytes in all");
        }

        if ((Restarted ?? []).Any(r => !names.Contains(LabAgent.Name(r))))
        {
            problems.Add("restarted must name reported containers");
        }

        return problems;
    }
}

/// <summary>One container as <c>docker inspect</c> shows it.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record AgentContainer(string Name, string State, int ExitCode, int Restarts, string? Health);

/// <summary>One running container as <c>docker stats</c> shows it: <c>1.5%</c>, <c>20MiB / 1GiB</c>, <c>1.2kB / 648B</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record AgentStats(string? Name, string? Cpu, string? Mem, string? Net);

/// <summary>The tail of one container's log, base64 (so any bytes pass through the shell's JSON).</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record AgentLog(string? Name, string? Tail);

/// <summary>A container as LabManager keeps it: state, health and figures, read from one heartbeat.</summary>
public sealed record ContainerHealth(
    string Name, string State, int ExitCode, int Restarts, string? Health, double? CpuPercent, long? MemoryUsed, long? MemoryLimit, long? NetIn, long? NetOut)
{
    /// <summary>Not serving: stopped, dead, crash-looping or failing its health check.</summary>
    public bool Failing => State is "exited" or "dead" or "restarting" || Health == "unhealthy";
}

/// <summary>What a heartbeat told the workflow; sent only when something changed. <see cref="Kind"/>: <c>restarted</c>, <c>degraded</c> or <c>recovered</c>.</summary>
public sealed record LabHealthReport(int Generation, int Boot, string Kind, string Message);

/// <summary>
/// The instance's health once a heartbeat is in: each container, the names failing and those the agent restarted this boot (what the next
/// heartbeat compares with), those it restarted in this heartbeat, and whether the lab is degraded: a container failing after the agent
/// restarted it, or failing two heartbeats running.
/// </summary>
public sealed record HeartbeatReading(
    IReadOnlyList<ContainerHealth> Containers, IReadOnlyList<string> Failing, IReadOnlyList<string> Restarted, IReadOnlyList<string> RestartedNow, bool Degraded, long NetTotal)
{
    public static HeartbeatReading From(HeartbeatBody body, IReadOnlyCollection<string> failingBefore, IReadOnlyCollection<string> restartedBefore)
    {
        var stats = (body.Stats ?? []).ToDictionary(s => LabAgent.Name(s.Name!), StringComparer.Ordinal);
        var containers = (body.Containers ?? []).Select(c =>
        {
            var name = LabAgent.Name(c.Name);
            var s = stats.GetValueOrDefault(name);
            var mem = LabAgent.Pair(s?.Mem);
            var net = LabAgent.Pair(s?.Net);
            return new ContainerHealth(name, c.State, c.ExitCode, c.Restarts, c.Health is { Length: > 0 } h ? h : null, LabAgent.Percent(s?.Cpu), mem?.Left, mem?.Right, net?.Left, net?.Right);
        }).OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
        var restartedNow = (body.Restarted ?? []).Select(LabAgent.Name).ToList();
        var failing = containers.Where(c => c.Failing).Select(c => c.Name).ToList();
        var degraded = failing.Any(n => restartedBefore.Contains(n) || failingBefore.Contains(n));
        return new(containers, failing, [.. restartedBefore.Union(restartedNow)], restartedNow, degraded, containers.Sum(c => (c.NetIn ?? 0) + (c.NetOut ?? 0)));
    }

    /// <summary>
    /// What the learner should hear of this heartbeat, given whether the lab was degraded before: the agent restarted a container, the
    /// lab became degraded, or it recovered; null when nothing changed.
    /// </summary>
    public (string Kind, string Message)? Change(bool degradedBefore)
    {
        if (Degraded && !degradedBefore)
        {
            return ("degraded", $"Your lab is not working: {string.Join(", ", Failing)} keeps failing. Reset it to get a fresh one.");
        }

        if (!Degraded && degradedBefore)
        {
            return ("recovered", "Your lab works again");
        }

        return RestartedNow.Count > 0 && !Degraded
            ? ("restarted", $"{string.Join(", ", RestartedNow)} stopped and was restarted; what you did inside it may be gone")
            : null;
    }
}

/// <summary>Reading what Docker prints, and rendering the agent.</summary>
public static partial class LabAgent
{
    /// <summary>Docker's container names (<c>docker inspect</c> adds a leading slash).</summary>
    public static bool IsName(string? name) => name is { Length: > 0 and <= 129 } && NamePattern().IsMatch(name);

    public static string Name(string name) => name.StartsWith('/') ? name[1..] : name;

    /// <summary><c>1.5%</c> → 1.5; null when it is not a percentage.</summary>
    public static double? Percent(string? text) =>
        text is { Length: > 1 and <= 16 } && text.EndsWith('%') && double.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v) && v <= 100_000
            ? v : null;

    /// <summary><c>20MiB / 1GiB</c> or <c>1.2kB / 648B</c> → bytes each; null when either side is not a size.</summary>
    public static (long Left, long Right)? Pair(string? text)
    {
        var parts = text is { Length: <= 48 } ? text.Split(" / ") : [];
        return parts.Length == 2 && Bytes(parts[0]) is { } left && Bytes(parts[1]) is { } right ? (left, right) : null;
    }

    /// <summary>A size as Docker prints it: decimal (<c>kB</c>, <c>MB</c> …) for network, binary (<c>KiB</c>, <c>MiB</c> …) for memory.</summary>
    public static long? Bytes(string text)
    {
        var m = SizePattern().Match(text.Trim());
        if (!m.Success || !double.TryParse(m.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
        {
            return null;
        }

        var unit = m.Groups[2].Value.ToUpperInvariant();
        double scale = unit switch
        {
            "B" => 1,
            "KB" => 1e3, "MB" => 1e6, "GB" => 1e9, "TB" => 1e12,
            "KIB" => 1L << 10, "MIB" => 1L << 20, "GIB" => 1L << 30, "TIB" => 1L << 40,
            _ => -1,
        };
        return scale < 0 || value * scale > 1e15 ? null : (long)(value * scale);
    }

    /// <summary>A log tail: base64 of at most <see cref="HeartbeatBody.MaxLogBytes"/> bytes; null when it is not.</summary>
    public static byte[]? Decode(string? base64)
    {
        if (base64 is null || base64.Length > (HeartbeatBody.MaxLogBytes + 2) / 3 * 4)
        {
            return null;
        }

        var bytes = new byte[base64.Length * 3 / 4 + 3];
        return Convert.TryFromBase64String(base64, bytes, out var written) ? bytes[..written] : null;
    }

    /// <summary>A log tail as text to keep: invalid UTF-8 replaced, every control character but newline and tab a space (no NUL reaches the database).</summary>
    public static string Text(byte[] tail)
    {
        var text = Encoding.UTF8.GetString(tail);
        return string.Create(text.Length, text, (span, t) =>
        {
            for (var i = 0; i < t.Length; i++)
            {
                span[i] = t[i] is '\n' or '\t' || !char.IsControl(t[i]) ? t[i] : ' ';
            }
        });
    }

    /// <summary>The last <paramref name="lines"/> lines of a kept log tail, each ending in a newline.</summary>
    public static string Lines(string text, int lines)
    {
        var all = text.Split('\n');
        var kept = all.Length > 0 && all[^1].Length == 0 ? all[..^1] : all;
        return string.Concat(kept.TakeLast(lines).Select(l => l + "\n"));
    }

    [GeneratedRegex(@"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)\s?([kKMGT]?i?B)$")]
    private static partial Regex SizePattern();
}
