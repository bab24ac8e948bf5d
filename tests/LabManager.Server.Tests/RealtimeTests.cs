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
        await Task.Delay(300);

        static List<string> Statuses(IEnumerable<Received> received, string id) =>
            [.. received.Where(r => r.Message["instanceId"]!.GetValue<string>() == id).Select(r => r.Message["status"]!.GetValue<string>())];
        Assert.Equal(["provisioning", "running", "stopping", "stopped"], Statuses(ownerMessages, id));
        Assert.Equal(["provisioning", "running", "stopping", "stopped"], Statuses(subscriberMessages, id));
        Assert.Equal(["provisioning", "running", "stopping", "stopped"], Statuses(operatorMessages, id));
        Assert.Empty(otherMessages);
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
