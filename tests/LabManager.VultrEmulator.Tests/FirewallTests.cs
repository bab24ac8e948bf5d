using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace LabManager.VultrEmulator.Tests;

/// <summary>
/// The emulator's firewall groups act as Vultr's do: a VM in a group is reached only from what its rules admit. Distinct loopback source
/// addresses stand for distinct hosts (127.0.0.66 is a stranger).
/// </summary>
public sealed class FirewallTests : IAsyncLifetime
{
    private static readonly IPAddress Learner = IPAddress.Parse("127.0.0.77");
    private static readonly IPAddress Stranger = IPAddress.Parse("127.0.0.66");

    private VultrEmulatorApp _emulator = null!;
    private HttpClient _api = null!;

    public async Task InitializeAsync()
    {
        _emulator = await VultrEmulatorApp.StartAsync(o => (o.PendingSeconds, o.BootSeconds, o.InstallSeconds, o.CloudInitSeconds) = (0.2, 0.2, 0.2, 0.1));
        _api = new HttpClient { BaseAddress = _emulator.ApiBase };
        _api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _emulator.ApiKey);
    }

    public async Task DisposeAsync()
    {
        _api.Dispose();
        await _emulator.DisposeAsync();
    }

    [Fact]
    public async Task AVmInAGroup_AcceptsOnlyWhatItsRulesAdmit_AVmInNoGroupAcceptsEveryone()
    {
        var group = await GroupAsync(("8080", Learner, 32), ("9000:9100", IPAddress.Parse("127.0.0.0"), 24));
        var closed = await LabAsync(group, "docker run -p 8080:80 -p 2222:22 -p 9050:9050 img");
        var open = await LabAsync(null, "docker run -p 8080:80 img");

        Assert.Contains("Lab app", await GetAsync(Learner, closed, 8080), StringComparison.Ordinal);
        await AssertRefusedAsync(() => GetAsync(Stranger, closed, 8080));
        // A port no rule names is closed to everyone, the learner too; a range admits a whole subnet.
        await AssertRefusedAsync(() => GetAsync(Learner, closed, 2222));
        Assert.Contains("Lab app", await GetAsync(Stranger, closed, 9050), StringComparison.Ordinal);
        Assert.Contains("Lab app", await GetAsync(Stranger, open, 8080), StringComparison.Ordinal);
        Assert.True((await _emulator.InspectAsync()).Requests.GetValueOrDefault("firewall_refused") >= 2);
    }

    [Fact]
    public async Task ARuleAdded_OpensThePort_ARuleDeleted_ClosesItForNewConnections()
    {
        var group = await GroupAsync();
        var ip = await LabAsync(group, "docker run -p 8080:80 img");
        await AssertRefusedAsync(() => GetAsync(Learner, ip, 8080));

        using var added = await _api.PostAsJsonAsync($"firewalls/{group}/rules", new { ip_type = "v4", protocol = "tcp", subnet = "127.0.0.77", subnet_size = 32, port = "8080" });
        var ruleId = (await added.Content.ReadFromJsonAsync<JsonObject>())!["firewall_rule"]!["id"]!.GetValue<int>();
        Assert.Contains("Lab app", await GetAsync(Learner, ip, 8080), StringComparison.Ordinal);

        (await _api.DeleteAsync($"firewalls/{group}/rules/{ruleId}")).Dispose();
        await AssertRefusedAsync(() => GetAsync(Learner, ip, 8080));
    }

    [Fact]
    public async Task CreatingAVmInAGroupThatDoesNotExist_IsRefused()
    {
        using var response = await _api.PostAsJsonAsync("instances", new { region = "ewr", plan = "vc2-1c-1gb", os_id = 1743, label = "lab-x", firewall_group_id = Guid.NewGuid().ToString() });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("Invalid firewall group.", (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task AGroupHoldsAtMost50Rules()
    {
        await _emulator.SetFaultsAsync(new FaultSettings { RateLimitPerSecond = 0 });
        var group = await GroupAsync();
        for (var port = 1; port <= 50; port++)
        {
            using var ok = await _api.PostAsJsonAsync($"firewalls/{group}/rules", new { ip_type = "v4", protocol = "tcp", subnet = "127.0.0.1", subnet_size = 32, port = port.ToString() });
            Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
        }

        using var refused = await _api.PostAsJsonAsync($"firewalls/{group}/rules", new { ip_type = "v4", protocol = "tcp", subnet = "127.0.0.1", subnet_size = 32, port = "51" });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
    }

    [Fact]
    public async Task TheLabApp_KeepsConnectionsAlive_SetsItsCookie_EchoesWhatItSaw_AndEchoesOverAWebSocket()
    {
        var ip = await LabAsync(null, "docker run -p 8080:80 img");
        using var http = Client(Learner);

        using var login = await http.GetAsync($"http://{ip}:8080/login");
        Assert.Equal(HttpStatusCode.Found, login.StatusCode);
        Assert.Equal("/whoami", login.Headers.Location!.OriginalString);
        Assert.Contains("labsession=lab-8080", login.Headers.GetValues("Set-Cookie").Single(), StringComparison.Ordinal);

        using var whoami = new HttpRequestMessage(HttpMethod.Get, $"http://{ip}:8080/whoami");
        whoami.Headers.Add("Cookie", "labsession=abc");
        var seen = await (await http.SendAsync(whoami)).Content.ReadAsStringAsync();
        Assert.Contains("cookie: labsession=abc", seen, StringComparison.Ordinal);

        var bytes = await http.GetByteArrayAsync($"http://{ip}:8080/bytes/300000");
        Assert.Equal(300_000, bytes.Length);

        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://{ip}:8080/ws"), CancellationToken.None);
        await socket.SendAsync("ping"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[16];
        var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal("ping", Encoding.UTF8.GetString(buffer, 0, received.Count));
    }

    private async Task<string> GroupAsync(params (string Port, IPAddress Subnet, int Size)[] rules)
    {
        using var created = await _api.PostAsJsonAsync("firewalls", new { description = "test" });
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["firewall_group"]!["id"]!.GetValue<string>();
        foreach (var (port, subnet, size) in rules)
        {
            using var rule = await _api.PostAsJsonAsync($"firewalls/{id}/rules", new { ip_type = "v4", protocol = "tcp", subnet = subnet.ToString(), subnet_size = size, port });
            Assert.Equal(HttpStatusCode.Created, rule.StatusCode);
        }

        return id;
    }

    /// <summary>Creates a VM (in <paramref name="group"/>, if given) and waits for its lab; answers its address.</summary>
    private async Task<string> LabAsync(string? group, string script)
    {
        using var response = await _api.PostAsJsonAsync("instances", new Dictionary<string, object?>
        {
            ["region"] = "ewr", ["plan"] = "vc2-1c-1gb", ["os_id"] = 1743, ["label"] = "lab-" + Guid.NewGuid(), ["firewall_group_id"] = group,
            ["user_data"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(script)),
        });
        var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["instance"]!["id"]!.GetValue<string>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (true)
        {
            var vm = (await _emulator.InspectAsync(cts.Token)).Vms.Single(v => v.Id == id);
            if (vm.LabUpAt is not null)
            {
                return vm.MainIp;
            }

            await Task.Delay(50, cts.Token);
        }
    }

    /// <summary>A refused connection is reset at once: a failed request, or the socket's error when the reset comes as the client asks for its peer.</summary>
    private static async Task AssertRefusedAsync(Func<Task> connect) =>
        Assert.True(await Record.ExceptionAsync(connect) is HttpRequestException or SocketException or IOException, "the connection was not refused");

    private static HttpClient Client(IPAddress from) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.Zero,
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(from, 0));
            await socket.ConnectAsync(context.DnsEndPoint, ct);
            return new NetworkStream(socket, ownsSocket: true);
        },
    })
    { Timeout = TimeSpan.FromSeconds(5) };

    private static async Task<string> GetAsync(IPAddress from, string ip, int port)
    {
        using var http = Client(from);
        return await http.GetStringAsync($"http://{ip}:{port}/");
    }
}
