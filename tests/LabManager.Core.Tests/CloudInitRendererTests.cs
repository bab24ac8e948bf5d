using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using LabManager.Core.CloudInit;
using LabManager.Core.Labs;

namespace LabManager.Core.Tests;

public sealed class CloudInitRendererTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cloudinit-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ContainerConfig Config(params ContainerSpec[] containers) => new() { Containers = containers };

    private static ContainerSpec Web(int hostPort = 8080) => new()
    {
        Name = "web",
        Image = "vulnerables/web-dvwa:latest",
        Ports = [new PortMapping(hostPort, 80)],
        Environment = new Dictionary<string, string> { ["MYSQL_PASS"] = "p@ss" },
        MemoryMb = 768,
        Cpus = 1.5,
        PidsLimit = 200,
        Capabilities = ["CHOWN", "SETUID"],
    };

    [Fact]
    public void Render_WebLab_InstallsDockerAndRunsHardenedContainer()
    {
        var script = CloudInitRenderer.Render(Config(Web() with { ReadOnlyRootFilesystem = true, User = "www-data" }), "http://127.0.0.1:5000/ready");

        Assert.StartsWith("#!/bin/bash\n", script, StringComparison.Ordinal);
        Assert.Contains("apt-get install -y --no-install-recommends docker.io", script, StringComparison.Ordinal);
        Assert.Contains("docker network create --driver bridge labnet", script, StringComparison.Ordinal);
        foreach (var expected in new[]
        {
            "--cap-drop ALL", "--cap-add 'CHOWN'", "--cap-add 'SETUID'", "--security-opt no-new-privileges",
            "--memory 768m --memory-swap 768m", "--cpus 1.5", "--pids-limit 200", "--network labnet",
            "--read-only --tmpfs /tmp --tmpfs /run", "--user 'www-data'", "-e 'MYSQL_PASS=p@ss'", "-p 8080:80/tcp",
            "wait_port 8080", "curl -fsS -X POST", "'http://127.0.0.1:5000/ready'",
        })
        {
            Assert.Contains(expected, script, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Render_NoPhoneHomeUrl_DoesNotCallHome()
    {
        var script = CloudInitRenderer.Render(Config(Web() with { ReadOnlyRootFilesystem = false }));
        Assert.DoesNotContain("curl", script, StringComparison.Ordinal);
        Assert.DoesNotContain("--read-only", script, StringComparison.Ordinal);
        Assert.DoesNotContain("--user", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_SameConfig_SameScript()
    {
        Assert.Equal(CloudInitRenderer.Render(Config(Web())), CloudInitRenderer.Render(Config(Web())));
    }

    [Fact]
    public void Render_InvalidConfig_ThrowsWithReasons()
    {
        var bad = Config(Web() with { Name = "x; reboot", Capabilities = ["$(id)"] });
        var ex = Assert.Throws<ArgumentException>(() => CloudInitRenderer.Render(bad));
        Assert.Contains("container name", ex.Message, StringComparison.Ordinal);
        Assert.Contains("capability", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("'; touch {0}/pwned; echo '")]
    [InlineData("$(touch {0}/pwned)")]
    [InlineData("`touch {0}/pwned`")]
    [InlineData("x\ntouch {0}/pwned\n")]
    [InlineData("\\'; touch {0}/pwned #")]
    [InlineData("\"; touch {0}/pwned; \"")]
    public async Task Render_HostileValues_ReachDockerAsDataAndRunNothing(string template)
    {
        var hostile = string.Format(System.Globalization.CultureInfo.InvariantCulture, template, _dir);
        using var port = new TcpListener(IPAddress.Loopback, 0);
        port.Start();
        var hostPort = ((IPEndPoint)port.LocalEndpoint).Port;
        var config = Config(Web(hostPort) with
        {
            Image = "img:" + hostile,
            User = hostile,
            Environment = new Dictionary<string, string> { ["SECRET"] = hostile, [hostile] = "v" },
        });

        var calls = await RunWithStubsAsync(CloudInitRenderer.Render(config, "http://127.0.0.1/ready?x=" + hostile));

        Assert.False(File.Exists(Path.Combine(_dir, "pwned")), "a hostile value ran a command");
        var run = Assert.Single(calls, c => c is ["docker", "run", ..]);
        Assert.Equal("img:" + hostile, run[^1]);
        Assert.Contains("SECRET=" + hostile, run);
        Assert.Contains(hostile + "=v", run);
        Assert.Equal(hostile, run[run.IndexOf("--user") + 1]);
        Assert.Contains(calls, c => c is ["docker", "pull", var image] && image == "img:" + hostile);
        Assert.Equal("http://127.0.0.1/ready?x=" + hostile, Assert.Single(calls, c => c[0] == "curl")[^1]);
        // Nothing but the stubs was called: no stray command slipped in between.
        Assert.All(calls, c => Assert.Contains(c[0], new[] { "docker", "systemctl", "curl" }));
    }

    [Fact]
    public void Quote_Nul_Refused()
    {
        Assert.Throws<ArgumentException>(() => CloudInitRenderer.Quote("a\0b"));
    }

    /// <summary>Runs the script with docker, systemctl, curl and tee replaced by stubs that record their arguments.</summary>
    private async Task<List<List<string>>> RunWithStubsAsync(string script)
    {
        var bin = Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName;
        var log = Path.Combine(_dir, "calls.log");
        foreach (var stub in new[] { "docker", "systemctl", "curl" })
        {
            await File.WriteAllTextAsync(Path.Combine(bin, stub),
                $"#!/bin/bash\n{{ printf '%s\\0' {stub} \"$@\"; printf '\\036\\0'; }} >> '{log}'\n");
        }

        await File.WriteAllTextAsync(Path.Combine(bin, "tee"), "#!/bin/bash\ncat > /dev/null\n");
        foreach (var file in Directory.GetFiles(bin))
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var scriptPath = Path.Combine(_dir, "user_data.sh");
        await File.WriteAllTextAsync(scriptPath, script);
        var start = new ProcessStartInfo("bash", [scriptPath]) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.Environment["PATH"] = bin + ":/usr/bin:/bin";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"script failed ({process.ExitCode}): {await stderr}");

        var records = (await File.ReadAllTextAsync(log, Encoding.UTF8)).Split("\u001e\0", StringSplitOptions.RemoveEmptyEntries);
        return [.. records.Select(r => r.Split('\0', StringSplitOptions.None).SkipLast(1).ToList())];
    }
}
