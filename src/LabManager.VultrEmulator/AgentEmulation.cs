using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LabManager.VultrEmulator;

/// <summary>One of the lab's containers, as the VM's Docker would run it (from a <c>docker run</c> of the user_data).</summary>
internal sealed class EmulatedContainer
{
    public required string Name { get; init; }
    public int MemoryMb { get; init; } = 512;
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    public string State { get; set; } = "running";
    public int ExitCode { get; set; }
    public int Restarts { get; set; }

    /// <summary>Whatever starts it, it exits again at once (a broken image, a crash at start).</summary>
    public bool KeepsFailing { get; set; }

    /// <summary>The boot in which the agent last started it: once a boot, like the agent's marker files.</summary>
    public int AgentRestartedBoot { get; set; }

    public void Exit(int code, bool keepsFailing)
    {
        (State, ExitCode, KeepsFailing) = ("exited", code, keepsFailing);
    }
}

/// <summary>
/// What the agent the user_data installs would do on the VM: find the heartbeat URL and interval it was rendered with, and at each
/// interval start an exited container once a boot, then report every container as <c>docker inspect</c>/<c>stats</c>/<c>logs</c> would.
/// </summary>
internal static partial class AgentEmulation
{
    /// <summary>The agent's URL and interval in this user_data, or null when it installs none.</summary>
    public static (string Url, double Seconds)? Find(string userData)
    {
        var url = AgentUrlPattern().Match(userData);
        var interval = TimerPattern().Match(userData);
        return url.Success && interval.Success
            ? (url.Groups[1].Value.Replace("'\\''", "'", StringComparison.Ordinal), double.Parse(interval.Groups[1].Value, CultureInfo.InvariantCulture))
            : null;
    }

    /// <summary>The containers each <c>docker run</c> of the user_data starts, with their memory and environment; one named <c>lab</c> when it runs none.</summary>
    public static List<EmulatedContainer> Containers(string userData)
    {
        var containers = new List<EmulatedContainer>();
        foreach (var run in userData.Split("docker run ").Skip(1))
        {
            var block = run.Split("\n\n")[0];
            if (NamePattern().Match(block) is not { Success: true } name)
            {
                continue;
            }

            var memory = MemoryPattern().Match(block);
            containers.Add(new EmulatedContainer
            {
                Name = name.Groups[1].Value,
                MemoryMb = memory.Success ? int.Parse(memory.Groups[1].Value, CultureInfo.InvariantCulture) : 512,
                Environment = EnvPattern().Matches(block).Select(m => m.Groups[1].Value.Replace("'\\''", "'", StringComparison.Ordinal).Split('=', 2))
                    .Where(kv => kv.Length == 2).GroupBy(kv => kv[0]).ToDictionary(g => g.Key, g => g.Last()[1]),
            });
        }

        return containers.Count > 0 ? containers : [new EmulatedContainer { Name = "lab" }];
    }

    /// <summary>One heartbeat's body, after the agent's once-a-boot restarts, as the rendered agent script builds it.</summary>
    public static string Report(Vm vm, int boot)
    {
        var restarted = new List<string>();
        foreach (var c in vm.Containers.Where(c => c.State is "exited" or "dead" && c.AgentRestartedBoot != boot))
        {
            c.AgentRestartedBoot = boot;
            restarted.Add(c.Name);
            c.Restarts++;
            if (!c.KeepsFailing)
            {
                (c.State, c.ExitCode) = ("running", 0);
            }
        }

        var running = vm.Containers.Where(c => c.State == "running").ToList();
        var share = running.Count == 0 ? 0 : 1.0 / running.Count;
        var body = new
        {
            boot,
            containers = vm.Containers.Select(c => new { name = "/" + c.Name, state = c.State, exitCode = c.ExitCode, restarts = c.Restarts, health = (string?)null }),
            stats = running.Select(c => new
            {
                name = c.Name,
                cpu = (0.3 + Random.Shared.NextDouble() * 3).ToString("0.00", CultureInfo.InvariantCulture) + "%",
                mem = string.Create(CultureInfo.InvariantCulture, $"{c.MemoryMb * (0.25 + Random.Shared.NextDouble() * 0.1):0.##}MiB / {c.MemoryMb}MiB"),
                net = $"{Size(vm.NetIn * share)} / {Size(vm.NetOut * share)}",
            }),
            logs = vm.Containers.Select(c => new
            {
                name = c.Name,
                tail = Convert.ToBase64String(Encoding.UTF8.GetBytes(
                    $"{c.Name}: started (boot {boot})\n" + (c.State == "running" ? $"{c.Name}: serving, {vm.Connections} connections so far\n" : $"{c.Name}: exited with code {c.ExitCode}\n"))),
            }),
            restarted,
        };
        return JsonSerializer.Serialize(body);
    }

    /// <summary>A size as <c>docker stats</c> prints network bytes: decimal units.</summary>
    private static string Size(double bytes) => bytes switch
    {
        < 1e3 => string.Create(CultureInfo.InvariantCulture, $"{bytes:0}B"),
        < 1e6 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e3:0.##}kB"),
        < 1e9 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:0.##}MB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:0.##}GB"),
    };

    [GeneratedRegex(@"(?m)^url='([^\n]+)'$")]
    private static partial Regex AgentUrlPattern();

    [GeneratedRegex(@"OnUnitActiveSec=(\d+)")]
    private static partial Regex TimerPattern();

    [GeneratedRegex(@"--name '([^']+)'")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"--memory (\d+)m")]
    private static partial Regex MemoryPattern();

    [GeneratedRegex(@"-e '((?:[^']|'\\'')*)'")]
    private static partial Regex EnvPattern();
}
