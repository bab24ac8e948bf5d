using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using LabManager.Core.Instances;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Xunit.Abstractions;
using static LabManager.Server.Tests.ServerFixture;

namespace LabManager.Server.Tests;

/// <summary>Real SignalR clients on the Server's hub over WebSockets.</summary>
public sealed class RealtimeTests(ServerFixture server, ITestOutputHelper output) : IClassFixture<ServerFixture>
{
    private sealed record Received(JsonObject Message, DateTimeOffset At);

    private async Task<(HubConnection Connection, ConcurrentQueue<Received> Messages)> ConnectAsync(string token)
    {
        var messages = new ConcurrentQueue<Received>();
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.Http.BaseAddress!, "/hubs/labs"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
            .Build();
        connection.On<JsonObject>("lab:status", m => messages.Enqueue(new Received(m, DateTimeOffset.UtcNow)));
        await connection.StartAsync();
        return (connection, messages);
    }

    [Fact]
    public async Task LabStatus_OwnerAndOperatorsGetOrderedSequence_SubscriberGetsFeed_OthersNothing()
    {
        var ownerToken = server.Token(Guid.NewGuid());
        var (owner, ownerMessages) = await ConnectAsync(ownerToken);
        var (@operator, operatorMessages) = await ConnectAsync(server.Token(Guid.NewGuid(), admin: true));
        var (other, otherMessages) = await ConnectAsync(server.Token(Guid.NewGuid()));
        var (subscriber, subscriberMessages) = await ConnectAsync(server.Token(Guid.NewGuid()));
        await subscriber.InvokeAsync("subscribe:lab", CryptoLab);

        var (_, started, _) = await server.StartAsync(CryptoLab, ownerToken);
        var id = started["data"]!["id"]!.GetValue<string>();
        var running = await server.WaitForStatusAsync(id, ownerToken, LabInstanceStatus.Running);
        await server.StopAndWaitAsync(id, ownerToken);
        await server.AssertNoVmLeftAsync([id]);
        await WaitUntilAsync(() => ownerMessages.Count(m => m.Message["instanceId"]!.GetValue<string>() == id) >= 5
            && subscriberMessages.Count >= 5 && operatorMessages.Count(m => m.Message["instanceId"]!.GetValue<string>() == id) >= 5);

        // Each push carries the workflow's step and how far the start is: the page needs nothing else while a lab starts.
        static List<string> Statuses(IEnumerable<Received> received, string id) =>
            [.. received.Where(r => r.Message["instanceId"]!.GetValue<string>() == id)
                .Select(r => $"{r.Message["status"]!.GetValue<string>()}/{r.Message["step"]?.GetValue<string>()}/{r.Message["progress"]!.GetValue<double>()}")];
        string[] expected = ["provisioning/waiting-for-vm/0.6", "provisioning/waiting-for-lab/0.8", "running/running/1", "stopping//1", "stopped//1"];
        Assert.Equal(expected, Statuses(ownerMessages, id));
        Assert.Equal(expected, Statuses(subscriberMessages, id));
        Assert.Equal(expected, Statuses(operatorMessages, id));
        Assert.Empty(otherMessages);
        // Each says when it was sent, in the order the workflow went, and no later than it was heard.
        var sent = ownerMessages.Where(r => r.Message["instanceId"]!.GetValue<string>() == id).Select(r => (Sent: r.Message["at"]!.GetValue<DateTimeOffset>(), Heard: r.At)).ToList();
        Assert.Equal(sent.Select(m => m.Sent).Order(), sent.Select(m => m.Sent));
        Assert.All(sent, m => Assert.InRange(m.Heard - m.Sent, TimeSpan.FromMilliseconds(-5), TimeSpan.FromSeconds(5)));
        Assert.Equal(running["accessUrl"]!.GetValue<string>(), operatorMessages.Single(r => r.Message["status"]!.GetValue<string>() == "running").Message["accessUrl"]!.GetValue<string>());

        var ownerRunning = ownerMessages.Single(r => r.Message["status"]!.GetValue<string>() == "running");
        Assert.Equal(running["accessUrl"]!.GetValue<string>(), ownerRunning.Message["accessUrl"]!.GetValue<string>());
        Assert.Null(subscriberMessages.Single(r => r.Message["status"]!.GetValue<string>() == "running").Message["accessUrl"]);
        var delay = ownerRunning.At - running["startedAt"]!.GetValue<DateTimeOffset>();
        output.WriteLine($"running decided → client received: {delay.TotalMilliseconds:F0} ms");
        Assert.InRange(delay, TimeSpan.Zero, TimeSpan.FromSeconds(5));

        await subscriber.InvokeAsync("unsubscribe:lab", CryptoLab);
        await Task.WhenAll(owner.DisposeAsync().AsTask(), @operator.DisposeAsync().AsTask(), other.DisposeAsync().AsTask(), subscriber.DisposeAsync().AsTask());
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 100 && !condition(); i++)
        {
            await Task.Delay(50);
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not-a-token")]
    public async Task Connect_WithoutValidToken_Refused(string? token)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.Http.BaseAddress!, "/hubs/labs"), o => o.AccessTokenProvider = () => Task.FromResult(token))
            .Build();
        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => connection.StartAsync());
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, ex.StatusCode);
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task SubscribeLab_NotAUuid_HubError()
    {
        var (connection, _) = await ConnectAsync(server.Token(Guid.NewGuid()));
        var ex = await Assert.ThrowsAsync<HubException>(() => connection.InvokeAsync("subscribe:lab", "dvwa"));
        Assert.Contains("The lab id must be a UUID", ex.Message, StringComparison.Ordinal);
        await connection.DisposeAsync();
    }
}
