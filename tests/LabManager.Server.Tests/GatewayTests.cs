using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using LabManager.Api.Http;
using LabManager.Core.Access;
using LabManager.Core.Instances;
using LabManager.Core.Ports;
using LabManager.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.Server.Tests;

/// <summary>
/// The access gateway and the per-lab firewall through the Server, against the emulator, whose VMs admit only what their group's rules
/// allow. Distinct loopback addresses stand for distinct hosts: 127.0.0.77 the learner, 127.0.0.66 a stranger.
/// </summary>
public sealed class GatewayTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string Learner = "127.0.0.77";
    private const string Stranger = "127.0.0.66";

    [Fact]
    public async Task ATicket_IsTradedForACookieOfThatLabsHostOnly_ThenTheLabWorksAsOnItsVm()
    {
        var (id, token) = await RunningAsync(ServerFixture.DvwaLab);
        var link = await server.AccessLinkAsync(id, token);
        var clean = $"http://{id}.lab.localhost:{server.Http.BaseAddress!.Port}/login.php";
        Assert.StartsWith(clean + "?" + AccessTickets.QueryName + "=", link, StringComparison.Ordinal);

        using var noRedirects = server.Visitor(followRedirects: false);
        using var traded = await noRedirects.GetAsync(link);
        Assert.Equal(HttpStatusCode.Redirect, traded.StatusCode);
        Assert.Equal("/login.php", traded.Headers.Location!.OriginalString);
        var cookie = Assert.Single(traded.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("labmanager_access=", cookie, StringComparison.Ordinal);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("domain=", cookie, StringComparison.OrdinalIgnoreCase);

        var cookies = new CookieContainer();
        using var browser = server.Visitor(cookies: cookies);
        var page = await browser.GetAsync(await server.AccessLinkAsync(id, token));
        Assert.Equal(clean, page.RequestMessage!.RequestUri!.ToString());
        Assert.Contains("Lab app", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(page.Headers.Contains("Content-Security-Policy"), "the Server's page policy was applied to a lab page");

        // The lab's own cookie and redirect work as on the VM; it sees its own Host, X-Forwarded-*, and never the gateway's cookie.
        var whoami = await (await browser.GetAsync($"http://{id}.lab.localhost:{server.Http.BaseAddress.Port}/login")).Content.ReadAsStringAsync();
        Assert.Contains($"host: {id}.lab.localhost:{server.Http.BaseAddress.Port}", whoami, StringComparison.Ordinal);
        Assert.Contains("cookie: labsession=lab-80\n", whoami, StringComparison.Ordinal);
        Assert.Contains("x-forwarded-for: 127.0.0.1", whoami, StringComparison.Ordinal);
        Assert.Contains("x-forwarded-proto: http", whoami, StringComparison.Ordinal);

        // A WebSocket of the lab's, through the gateway.
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Cookie", cookies.GetCookieHeader(new Uri(clean)));
        using var invoker = new HttpMessageInvoker(server.VisitorHandler(followRedirects: false));
        await socket.ConnectAsync(new Uri($"ws://{id}.lab.localhost:{server.Http.BaseAddress.Port}/ws"), invoker, CancellationToken.None);
        await socket.SendAsync("hello lab"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[64];
        var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal("hello lab", Encoding.UTF8.GetString(buffer, 0, received.Count));
        await StopAsync(id, token);
    }

    [Fact]
    public async Task NoCookie_AReplayedOrExpiredTicket_AnotherLabsCookie_AllGetTheUnknownHostsPage()
    {
        var (a, tokenA) = await RunningAsync(ServerFixture.DvwaLab);
        var (b, tokenB) = await RunningAsync(ServerFixture.CryptoLab);
        var port = server.Http.BaseAddress!.Port;
        using var stranger = server.Visitor();
        var unknown = await stranger.GetAsync($"http://{Guid.NewGuid()}.lab.localhost:{port}/");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        var notFound = await unknown.Content.ReadAsStringAsync();

        async Task AssertNotFoundAsync(HttpClient client, string url)
        {
            using var response = await client.GetAsync(url);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal(notFound, await response.Content.ReadAsStringAsync());
        }

        await AssertNotFoundAsync(stranger, $"http://{a}.lab.localhost:{port}/");
        var link = await server.AccessLinkAsync(a, tokenA);
        using (var first = server.Visitor())
        {
            Assert.Equal(HttpStatusCode.OK, (await first.GetAsync(link)).StatusCode);
        }

        await AssertNotFoundAsync(server.Visitor(), link);
        var expired = AccessTickets.New();
        await server.Services.GetRequiredService<IInstanceStore>().AddAccessTicketAsync(AccessTickets.Hash(expired), Guid.Parse(a), Guid.NewGuid(), DateTimeOffset.UtcNow.AddSeconds(-1));
        await AssertNotFoundAsync(server.Visitor(), $"http://{a}.lab.localhost:{port}/?{AccessTickets.QueryName}={expired}");
        // A ticket of lab B does not open lab A, and B's cookie, sent to A's host, is refused like none.
        await AssertNotFoundAsync(server.Visitor(), $"http://{a}.lab.localhost:{port}/?" + new Uri(await server.AccessLinkAsync(b, tokenB)).Query.TrimStart('?'));
        using var noRedirects = server.Visitor(followRedirects: false);
        var cookieOfB = (await noRedirects.GetAsync(await server.AccessLinkAsync(b, tokenB))).Headers.GetValues("Set-Cookie").Single().Split(';')[0];
        using var replayed = new HttpRequestMessage(HttpMethod.Get, $"http://{a}.lab.localhost:{port}/");
        replayed.Headers.Add("Cookie", cookieOfB);
        using var refused = await noRedirects.SendAsync(replayed);
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);

        // Another learner cannot even ask: the instance is not theirs. An operator can.
        var (other, _, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{a}/access", server.Token(Guid.NewGuid()));
        Assert.Equal(HttpStatusCode.NotFound, other);
        Assert.Contains("lab_ticket=", await server.AccessLinkAsync(a, server.Token(Guid.NewGuid(), admin: true)), StringComparison.Ordinal);
        await StopAsync(a, tokenA);
        await StopAsync(b, tokenB);
    }

    [Fact]
    public async Task ASessionThatEnded_ShowsAPageSayingSo_ToWhoeverHeldItsCookie()
    {
        var (id, token) = await RunningAsync(ServerFixture.DvwaLab);
        using var browser = server.Visitor();
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(await server.AccessLinkAsync(id, token))).StatusCode);

        await StopAsync(id, token);
        await Task.Delay(2100); // the gateway reads a lab's state again every 2 s

        using var ended = await browser.GetAsync($"http://{id}.lab.localhost:{server.Http.BaseAddress!.Port}/");
        Assert.Equal(HttpStatusCode.Gone, ended.StatusCode);
        Assert.Contains("This lab session has ended", await ended.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var (again, body, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/access", token);
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Equal("Only a running lab can be opened; this one is stopped", body["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheVm_RefusesStrangers_ItsTcpPortsAnswerTheLearnersAddressOnly_AndSshIsClosed()
    {
        // A web lab: its VM admits the gateway only, so a stranger's direct connection is refused.
        var (web, webToken) = await RunningAsync(ServerFixture.DvwaLab);
        var vm = (await server.SendAsync(HttpMethod.Get, "/api/admin/instances", server.Token(Guid.NewGuid(), admin: true))).Body["data"]!.AsArray()
            .Single(i => i!["id"]!.GetValue<string>() == web)!;
        Assert.True(SourceAddress.IsRefusal(await Record.ExceptionAsync(() => server.Visitor(Stranger).GetStringAsync($"http://{vm["publicIp"]!.GetValue<string>()}:80/"))), "a stranger reached the VM");

        // A TCP lab, started from the learner's address: its ports answer there and nowhere else; asking again from elsewhere moves them.
        var (tcp, tcpToken) = await RunningAsync(ServerFixture.NetworkLab, Learner);
        var (_, running, _) = await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{tcp}", tcpToken);
        var address = new Uri(running["data"]!["accessUrl"]!.GetValue<string>());
        Assert.Equal("tcp", address.Scheme);
        Assert.True(await AnswersAsync(Learner, address.Host, 2222));
        Assert.False(await AnswersAsync(Stranger, address.Host, 2222));
        Assert.False(await AnswersAsync("127.0.0.1", address.Host, 2222));
        await server.AccessLinkAsync(tcp, tcpToken, source: "127.0.0.78");
        Assert.True(await AnswersAsync("127.0.0.78", address.Host, 2222));
        Assert.False(await AnswersAsync(Learner, address.Host, 2222));
        // Each move costs Vultr calls: this server allows two an hour per learner.
        await server.AccessLinkAsync(tcp, tcpToken, source: "127.0.0.79");
        using var third = server.Visitor("127.0.0.80");
        using var ask = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Http.BaseAddress!, $"/api/labs/instances/{tcp}/access"));
        ask.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tcpToken);
        using var refusedMove = await third.SendAsync(ask);
        Assert.Equal(HttpStatusCode.TooManyRequests, refusedMove.StatusCode);
        Assert.True(await AnswersAsync("127.0.0.79", address.Host, 2222));
        Assert.False(await AnswersAsync("127.0.0.80", address.Host, 2222));

        // No rule opens SSH (no Access:AdminCidrs).
        var instance = (await server.Services.GetRequiredService<IInstanceStore>().GetAsync(Guid.Parse(tcp)))!;
        using var api = new HttpClient { BaseAddress = server.Emulator.ApiBase };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.Emulator.ApiKey);
        var rules = (await api.GetFromJsonAsync<JsonObject>($"firewalls/{instance.FirewallGroupId}/rules"))!["firewall_rules"]!.AsArray();
        Assert.Equal(["21 127.0.0.79/32", "2222 127.0.0.79/32"], rules.Select(r => $"{r!["port"]} {r["subnet"]}/{r["subnet_size"]}").Order());
        await StopAsync(web, webToken);
        await StopAsync(tcp, tcpToken);
    }

    /// <summary>Starts a lab as a new learner from <paramref name="source"/> and waits until it runs.</summary>
    private async Task<(string Id, string Token)> RunningAsync(string labId, string source = "127.0.0.1")
    {
        var token = server.Token(Guid.NewGuid());
        var id = await server.StartFromAsync(labId, token, source);
        await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);
        return (id, token);
    }

    private async Task StopAsync(string id, string token)
    {
        await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/stop", token);
        await server.WaitForStatusAsync(id, token, LabInstanceStatus.Stopped);
        await server.AssertNoVmLeftAsync([id]);
    }

    /// <summary>Whether the emulated lab app answers a request on ip:port from <paramref name="source"/> (a refused connection is reset).</summary>
    private static async Task<bool> AnswersAsync(string source, string ip, int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
        try
        {
            await socket.ConnectAsync(IPAddress.Parse(ip), port);
            await socket.SendAsync("GET / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n"u8.ToArray());
            var buffer = new byte[256];
            var n = await socket.ReceiveAsync(buffer);
            return Encoding.ASCII.GetString(buffer, 0, n).StartsWith("HTTP/1.1 200", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>A Server without a gateway (as the Functions app runs): each lab is opened to its learner's address only, at the VM's URL.</summary>
public sealed class DirectModeServer : ServerFixture
{
    protected override IEnumerable<string> Settings => [.. base.Settings, "Access:Mode=Direct", "Access:GatewayCidrs:0=127.0.0.1/32"];
}

public sealed class DirectModeTests(DirectModeServer server) : IClassFixture<DirectModeServer>
{
    [Fact]
    public async Task TheLabsUrlIsTheVms_AndItAnswersTheLearnersAddressOnly()
    {
        var token = server.Token(Guid.NewGuid());
        using var learner = server.Visitor("127.0.0.77");
        var id = await server.StartFromAsync(ServerFixture.DvwaLab, token, "127.0.0.77");
        var running = await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);

        var url = running["accessUrl"]!.GetValue<string>();
        Assert.StartsWith("http://127.", url, StringComparison.Ordinal);
        Assert.Equal(url, await server.AccessLinkAsync(id, token, source: "127.0.0.77"));
        Assert.Contains("Lab app", await learner.GetStringAsync(url), StringComparison.Ordinal);
        Assert.True(SourceAddress.IsRefusal(await Record.ExceptionAsync(() => server.Visitor("127.0.0.66").GetStringAsync(url))), "a stranger reached the VM");

        await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/stop", token);
        await server.WaitForStatusAsync(id, token, LabInstanceStatus.Stopped);
    }
}

/// <summary>Labs that stop after a few seconds without activity, warned shortly before.</summary>
public sealed class IdleServer : ServerFixture
{
    protected override IEnumerable<string> Settings => [.. base.Settings, "LabSessions:IdleTimeout=00:00:06", "LabSessions:Timings:IdleWarning=00:00:03"];
}

public sealed class IdleTests(IdleServer server) : IClassFixture<IdleServer>
{
    [Fact]
    public async Task GatewayRequestsAndTheKeepAlive_KeepALabRunning_ThenIdleStopsIt()
    {
        var token = server.Token(Guid.NewGuid());
        var (_, started, _) = await server.StartAsync(ServerFixture.DvwaLab, token);
        var id = started["data"]!["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);
        using var browser = server.Visitor();
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(await server.AccessLinkAsync(id, token))).StatusCode);

        // 8 s of use (past the 6 s timeout): first pages through the gateway, then the page's keep-alive.
        for (var i = 0; i < 8; i++)
        {
            if (i < 4)
            {
                Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync($"http://{id}.lab.localhost:{server.Http.BaseAddress!.Port}/")).StatusCode);
            }
            else
            {
                Assert.Equal(HttpStatusCode.Accepted, (await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/activity", token)).Status);
            }

            await Task.Delay(1000);
        }

        var (_, still, _) = await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}", token);
        Assert.Equal("running", still["data"]!["status"]!.GetValue<string>());
        var quiet = DateTimeOffset.UtcNow;
        var stopped = await server.WaitForStatusAsync(id, token, LabInstanceStatus.Stopped, TimeSpan.FromSeconds(30));
        Assert.InRange(stopped["endedAt"]!.GetValue<DateTimeOffset>() - quiet, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(12));
        await server.AssertNoVmLeftAsync([id]);
        Assert.Equal(HttpStatusCode.Conflict, (await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/activity", token)).Status);
    }
}
