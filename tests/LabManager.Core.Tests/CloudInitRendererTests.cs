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
            "wait_port 8080", "curl -fsS -X POST", "'http://127.0.0.1:5000/ready?boot='\"$boot\"",
            "cat > /var/lib/cloud/scripts/per-boot/labmanager-ready <<'LABMANAGER_READY'",
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
        Assert.Contains("containers[0].name: 'x; reboot'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("containers[0].capabilities[0]: '$(id)' is not allowed", ex.Message, StringComparison.Ordinal);
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

        // A phone-home URL is the operator's setting, and one line: one with a line break is refused, not rendered.
        var url = hostile.Contains('\n', StringComparison.Ordinal) ? "http://127.0.0.1/ready?x=1" : "http://127.0.0.1/ready?x=" + hostile;
        var calls = await RunWithStubsAsync(CloudInitRenderer.Render(config, url));

        Assert.False(File.Exists(Path.Combine(_dir, "pwned")), "a hostile value ran a command");
        var run = Assert.Single(calls, c => c is ["docker", "run", ..]);
        Assert.Equal("img:" + hostile, run[^1]);
        Assert.Contains("SECRET=" + hostile, run);
        Assert.Contains(hostile + "=v", run);
        Assert.Equal(hostile, run[run.IndexOf("--user") + 1]);
        Assert.Contains(calls, c => c is ["docker", "pull", var image] && image == "img:" + hostile);
        Assert.Equal(url + "&boot=1", Assert.Single(calls, c => c[0] == "curl")[^1]);
        // Nothing but the stubs was called: no stray command slipped in between.
        Assert.All(calls, c => Assert.Contains(c[0], new[] { "docker", "systemctl", "curl", "iptables" }));
    }

    [Fact]
    public async Task Render_PerBootScript_CountsBootsAndReportsEach_UserDataRunsItForTheFirst()
    {
        var script = CloudInitRenderer.Render(Config(Web(hostPort: 1)), "http://127.0.0.1/ready?key=k&vm=2");
        using var port = new TcpListener(IPAddress.Loopback, 0);
        port.Start();
        script = script.Replace("wait_port 1\n", $"wait_port {((IPEndPoint)port.LocalEndpoint).Port}\n", StringComparison.Ordinal);

        var first = await RunWithStubsAsync(script);
        Assert.Equal("http://127.0.0.1/ready?key=k&vm=2&boot=1", Assert.Single(first, c => c[0] == "curl")[^1]);

        // A reboot: cloud-init runs the per-boot script alone (the user_data does not run again).
        var rebooted = await RunWithStubsAsync(await File.ReadAllTextAsync(Path.Combine(_dir, "var/lib/cloud/scripts/per-boot/labmanager-ready")));
        Assert.Equal("http://127.0.0.1/ready?key=k&vm=2&boot=2", rebooted.Last(c => c[0] == "curl")[^1]);
        Assert.Equal("2", (await File.ReadAllTextAsync(Path.Combine(_dir, "var/lib/labmanager/boot"))).Trim());
        Assert.DoesNotContain(rebooted.Skip(first.Count), c => c[0] == "docker");
    }

    [Fact]
    public void Render_PhoneHomeUrlWithALineBreak_Refused()
    {
        var ex = Assert.Throws<ArgumentException>(() => CloudInitRenderer.Render(Config(Web()), "http://127.0.0.1/ready\nreboot"));
        Assert.Contains("one line", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Quote_Nul_Refused()
    {
        Assert.Throws<ArgumentException>(() => CloudInitRenderer.Quote("a\0b"));
    }

    [Fact]
    public async Task Render_HardensTheVm_NoSshPasswords_NoContainerReachesTheMetadataService()
    {
        using var port = new TcpListener(IPAddress.Loopback, 0);
        port.Start();
        var calls = await RunWithStubsAsync(CloudInitRenderer.Render(Config(Web(((IPEndPoint)port.LocalEndpoint).Port)), "http://127.0.0.1:1/ready?key=k"));

        var sshd = await File.ReadAllTextAsync(Path.Combine(_dir, "etc/ssh/sshd_config.d/00-labmanager.conf"));
        Assert.Contains("PasswordAuthentication no", sshd, StringComparison.Ordinal);
        Assert.Contains("KbdInteractiveAuthentication no", sshd, StringComparison.Ordinal);
        // The metadata address is closed to containers before the first one runs, and again by the per-boot script (rules do not survive a reboot).
        var block = calls.FindIndex(c => c is ["iptables", "-I", "DOCKER-USER", "-d", "169.254.169.254", "-j", "DROP"]);
        var firstRun = calls.FindIndex(c => c is ["docker", "run", ..]);
        Assert.InRange(block, 0, firstRun - 1);
        Assert.Equal(2, calls.Count(c => c is ["iptables", "-C", "DOCKER-USER", "-d", "169.254.169.254", "-j", "DROP"]));
    }

    /// <summary>
    /// Runs the script with docker, systemctl, curl, iptables and tee replaced by stubs that record their arguments, and the VM's
    /// <c>/var/lib</c> moved into the test's folder.
    /// </summary>
    private async Task<List<List<string>>> RunWithStubsAsync(string script)
    {
        script = script.Replace(" /var/lib/", $" {_dir}/var/lib/", StringComparison.Ordinal).Replace("$(cat /var/lib/", $"$(cat {_dir}/var/lib/", StringComparison.Ordinal)
            .Replace("> /var/lib/", $"> {_dir}/var/lib/", StringComparison.Ordinal).Replace("\n/var/lib/", $"\n{_dir}/var/lib/", StringComparison.Ordinal)
            .Replace(" /etc/ssh/", $" {_dir}/etc/ssh/", StringComparison.Ordinal);
        Assert.DoesNotMatch(@"(^|[\s(>])(/var/lib|/etc)", script);
        var bin = Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName;
        var log = Path.Combine(_dir, "calls.log");
        foreach (var stub in new[] { "docker", "systemctl", "curl", "iptables" })
        {
            await File.WriteAllTextAsync(Path.Combine(bin, stub),
                $"#!/bin/bash\n{{ printf '%s\\0' {stub} \"$@\"; printf '\\036\\0'; }} >> '{log}'\n"
                // iptables -C answers "no such rule", as on a fresh VM.
                + (stub == "iptables" ? "[ \"$1\" != -C ]\n" : ""));
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
