using System.Diagnostics;
using System.Text;
using LabManager.Core.CloudInit;
using LabManager.Core.Instances;
using LabManager.Core.Labs;

namespace LabManager.Core.Tests;

public sealed class LabAgentTests
{
    private static HeartbeatBody Body(string state = "running", List<string>? restarted = null, string? log = null) => new(
        3,
        [new AgentContainer("/dvwa", state, state == "exited" ? 1 : 0, 2, null)],
        state == "running" ? [new AgentStats("dvwa", "1.50%", "200MiB / 768MiB", "1.2kB / 648B")] : [],
        [new AgentLog("dvwa", Convert.ToBase64String(Encoding.UTF8.GetBytes(log ?? "started\n")))],
        restarted ?? []);

    [Theory]
    [InlineData("648B", 648L)]
    [InlineData("1.2kB", 1200L)]
    [InlineData("3.5MB", 3_500_000L)]
    [InlineData("200MiB", 200L * 1024 * 1024)]
    [InlineData("1GiB", 1L << 30)]
    [InlineData("0B", 0L)]
    public void Bytes_ReadsDockersUnits(string text, long bytes) => Assert.Equal(bytes, LabAgent.Bytes(text));

    [Theory]
    [InlineData("12")]
    [InlineData("1.2 parsecs")]
    [InlineData("-3MB")]
    [InlineData("9999999999TB")]
    [InlineData("1e3B")]
    public void Bytes_RefusesWhatIsNotASize(string text) => Assert.Null(LabAgent.Bytes(text));

    [Fact]
    public void ADockerShapedHeartbeat_HasNoProblems_AndReadsItsFigures()
    {
        var body = Body();
        Assert.Empty(body.Problems());
        var reading = HeartbeatReading.From(body, [], []);
        var dvwa = Assert.Single(reading.Containers);
        Assert.Equal(("dvwa", 1.5, 200L * 1024 * 1024, 768L * 1024 * 1024, 1200L, 648L),
            (dvwa.Name, dvwa.CpuPercent!.Value, dvwa.MemoryUsed!.Value, dvwa.MemoryLimit!.Value, dvwa.NetIn!.Value, dvwa.NetOut!.Value));
        Assert.Equal(1848, reading.NetTotal);
        Assert.False(reading.Degraded);
    }

    public static TheoryData<HeartbeatBody, string> BadBodies => new()
    {
        { Body() with { Boot = -1 }, "boot" },
        { Body() with { Containers = [.. Enumerable.Range(0, 33).Select(i => new AgentContainer($"c{i}", "running", 0, 0, null))] }, "at most 32" },
        { Body() with { Containers = [new AgentContainer("<script>", "running", 0, 0, null)] }, "containers[0].name" },
        { Body() with { Containers = [new AgentContainer("dvwa", "running", 0, 0, null), new AgentContainer("/dvwa", "running", 0, 0, null)] }, "containers[1].name" },
        { Body() with { Containers = [new AgentContainer("dvwa", "pwned", 0, 0, null)] }, "containers[0].state" },
        { Body() with { Containers = [new AgentContainer("dvwa", "running", 0, 0, "sick")] }, "containers[0].health" },
        { Body() with { Containers = [new AgentContainer("dvwa", "exited", 999, 0, null)] }, "exitCode" },
        { Body() with { Stats = [new AgentStats("other", "1%", "1MiB / 2MiB", "1B / 1B")] }, "stats[0]" },
        { Body() with { Stats = [new AgentStats("dvwa", "lots", "1MiB / 2MiB", "1B / 1B")] }, "stats[0]" },
        { Body() with { Logs = [new AgentLog("dvwa", "not base64!")] }, "logs[0]" },
        { Body(log: new string('x', HeartbeatBody.MaxLogBytes + 1)), "logs may carry" },
        { Body(restarted: ["nobody"]), "restarted" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public void AHostileHeartbeat_IsRefused_NamingWhatIsWrong(HeartbeatBody body, string problem) =>
        Assert.Contains(body.Problems(), p => p.Contains(problem, StringComparison.Ordinal));

    [Fact]
    public void AContainerThatExits_IsRestartedOnce_ThenFailingAgainIsDegraded_AndRunningAgainRecovers()
    {
        // The agent found it exited and started it: the learner hears of the restart, the lab is not degraded.
        var first = HeartbeatReading.From(Body("running", restarted: ["dvwa"]), [], []);
        Assert.False(first.Degraded);
        Assert.Equal("restarted", first.Change(degradedBefore: false)!.Value.Kind);

        // It exits again: the agent starts no container twice a boot, so the lab is degraded.
        var second = HeartbeatReading.From(Body("exited"), first.Failing, first.Restarted);
        Assert.True(second.Degraded);
        var degraded = second.Change(degradedBefore: false)!.Value;
        Assert.Equal("degraded", degraded.Kind);
        Assert.Contains("dvwa", degraded.Message, StringComparison.Ordinal);
        Assert.Null(second.Change(degradedBefore: true));

        var third = HeartbeatReading.From(Body("running"), second.Failing, second.Restarted);
        Assert.Equal("recovered", third.Change(degradedBefore: true)!.Value.Kind);
    }

    [Fact]
    public void ACrashLoop_IsDegradedOnTheSecondHeartbeat_NotTheFirst()
    {
        var first = HeartbeatReading.From(Body("restarting"), [], []);
        Assert.False(first.Degraded);
        Assert.True(HeartbeatReading.From(Body("restarting"), first.Failing, first.Restarted).Degraded);
    }

    [Fact]
    public void Lines_KeepsTheLastLines_AsTextWithoutControlCharacters()
    {
        var tail = LabAgent.Text([.. Encoding.UTF8.GetBytes("one\ntwo\u001b[31m red\u0007\nthree\tfour\0\n"), 0xff]);
        Assert.Equal("one\ntwo [31m red \nthree\tfour \n\ufffd", tail);
        Assert.Equal("two [31m red \nthree\tfour \n\ufffd\n", LabAgent.Lines(tail, 3));
    }

    [Fact]
    public async Task TheRenderedUserData_InstallsTheAgentUnderATimer_AndIsValidBash()
    {
        var config = new ContainerConfig { Containers = [new ContainerSpec { Name = "dvwa", Image = "dvwa:1", Ports = [new PortMapping(80, 80)] }] };
        var script = CloudInitRenderer.Render(config, "http://127.0.0.1:1/ready?key=k", ("http://127.0.0.1:1/heartbeat?key=k&vm=1", TimeSpan.FromSeconds(30)),
            new Dictionary<string, string> { ["FLAG_SQLI"] = "FLAG{x'y}" });
        Assert.Contains("OnUnitActiveSec=30", script, StringComparison.Ordinal);
        Assert.Contains("systemctl enable --now labmanager-agent.timer", script, StringComparison.Ordinal);
        Assert.Contains("-e 'FLAG_SQLI=FLAG{x'\\''y}'", script, StringComparison.Ordinal);
        Assert.Contains("url='http://127.0.0.1:1/heartbeat?key=k&vm=1'", script, StringComparison.Ordinal);
        Assert.Equal(0, await BashSyntaxAsync(script));
        Assert.Equal(0, await BashSyntaxAsync(CloudInitRenderer.AgentScript("http://h/heartbeat?key=k")));
        Assert.Throws<ArgumentException>(() => CloudInitRenderer.AgentScript("http://h/\nrm -rf /"));
    }

    [Fact]
    public void DynamicFlags_AreTheInstancesOwn_AndStable()
    {
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        Assert.Equal(Flags.Dynamic("s", a, "x"), Flags.Dynamic("s", a, "x"));
        Assert.NotEqual(Flags.Dynamic("s", a, "x"), Flags.Dynamic("s", b, "x"));
        Assert.NotEqual(Flags.Dynamic("s", a, "x"), Flags.Dynamic("s", a, "y"));
        Assert.NotEqual(Flags.Dynamic("s", a, "x"), Flags.Dynamic("t", a, "x"));
        Assert.Matches("^FLAG\\{[0-9a-f]{32}\\}$", Flags.Dynamic("s", a, "x"));
    }

    private static async Task<int> BashSyntaxAsync(string script)
    {
        var start = new ProcessStartInfo("bash", ["-n"]) { RedirectStandardInput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(script);
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        return process.ExitCode;
    }
}
