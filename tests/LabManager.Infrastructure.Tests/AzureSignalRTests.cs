using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using LabManager.Core.Instances;
using LabManager.Core.Ports;
using LabManager.Core.Realtime;
using LabManager.Infrastructure.Notifications;
using LabManager.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LabManager.Infrastructure.Tests;

/// <summary>The Azure SignalR REST publisher against a local fake of the service that checks what the real one checks.</summary>
public sealed class AzureSignalRTests : IAsyncLifetime
{
    private const string AccessKey = "fake-access-key-0123456789abcdef0123456789abcdef";
    private readonly ConcurrentQueue<Recorded> _requests = new();
    private WebApplication _fake = null!;
    private string _endpoint = null!;
    private int _status = 202;

    private sealed record Recorded(string Method, string Path, string Query, string? Authorization, string Body);

    public async Task InitializeAsync()
    {
        (_fake, var address) = await LoopbackApp.StartAsync(app => app.Run(async http =>
        {
            using var reader = new StreamReader(http.Request.Body);
            _requests.Enqueue(new Recorded(http.Request.Method, http.Request.Path.Value!, http.Request.QueryString.Value ?? "",
                http.Request.Headers.Authorization.FirstOrDefault(), await reader.ReadToEndAsync()));
            http.Response.StatusCode = _status;
        }));
        _endpoint = address.GetLeftPart(UriPartial.Authority);
    }

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    private ServiceProvider Build()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:AzureSignalR"] = $"Endpoint={_endpoint};AccessKey={AccessKey};Version=1.0;",
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddAzureSignalRNotifier(configuration);
        return services.BuildServiceProvider();
    }

    private static async Task<TokenValidationResult> ValidateAsync(string token, string audience) =>
        await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidateIssuer = false,
            ValidAudience = audience,
            IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(AccessKey)),
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            RequireExpirationTime = true,
        });

    [Fact]
    public async Task StatusChanged_SendsToUserAndLabGroup_SignedForEachUrl()
    {
        await using var services = Build();
        var notifier = services.GetRequiredService<INotifier>();
        Assert.IsType<RealtimeNotifier>(notifier);
        Assert.IsType<AzureSignalRLabsClient>(services.GetRequiredService<ILabsClient>());
        var (user, instance, lab) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());

        await notifier.StatusChangedAsync(new LabStatusEvent(user, instance, lab, LabInstanceStatus.Running, "Lab is ready", "http://203.0.113.5:80/", null, "running"));

        // The same groups as the Server's hub: the learner's, the operators', the lab's feed.
        var requests = _requests.ToList();
        Assert.Equal(
            [$"/api/hubs/labs/groups/user_{user:N}/:send", "/api/hubs/labs/groups/operators/:send", $"/api/hubs/labs/groups/lab_{lab:N}/:send"],
            requests.Select(r => r.Path));
        Assert.All(requests, r => Assert.Equal(("POST", "?api-version=2022-06-01"), (r.Method, r.Query)));
        var (toUser, toGroup) = (requests[0], requests[2]);
        foreach (var r in requests)
        {
            Assert.StartsWith("Bearer ", r.Authorization, StringComparison.Ordinal);
            var result = await ValidateAsync(r.Authorization!["Bearer ".Length..], _endpoint.TrimEnd('/') + r.Path);
            Assert.True(result.IsValid, result.Exception?.Message);
        }

        var userBody = JsonNode.Parse(toUser.Body)!;
        Assert.Equal("lab:status", userBody["target"]!.GetValue<string>());
        var status = userBody["arguments"]![0]!;
        Assert.Equal(("running", "http://203.0.113.5:80/", instance.ToString(), "running", 1.0),
            (status["status"]!.GetValue<string>(), status["accessUrl"]!.GetValue<string>(), status["instanceId"]!.GetValue<string>(),
             status["step"]!.GetValue<string>(), status["progress"]!.GetValue<double>()));
        // When it was sent, as on the Server's hub.
        Assert.InRange(status["at"]!.GetValue<DateTimeOffset>(), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow);
        var feed = JsonNode.Parse(toGroup.Body)!["arguments"]![0]!;
        Assert.Equal("running", feed["status"]!.GetValue<string>());
        Assert.Null(feed["accessUrl"]);
        Assert.Null(feed["message"]);
    }

    [Fact]
    public async Task Groups_AddAndRemoveConnection()
    {
        await using var services = Build();
        var api = services.GetRequiredService<IAzureSignalRApi>();

        await api.AddToGroupAsync("labs", "lab_x", "conn-1", CancellationToken.None);
        await api.RemoveFromGroupAsync("labs", "lab_x", "conn-1", CancellationToken.None);
        await api.AddUserToGroupAsync("labs", "operators", "user-7", 3600, CancellationToken.None);

        Assert.Equal(
            [("PUT", "/api/hubs/labs/groups/lab_x/connections/conn-1", "?api-version=2022-06-01"),
             ("DELETE", "/api/hubs/labs/groups/lab_x/connections/conn-1", "?api-version=2022-06-01"),
             ("PUT", "/api/hubs/labs/groups/operators/users/user-7", "?api-version=2022-06-01&ttl=3600")],
            _requests.Select(r => (r.Method, r.Path, r.Query)));
    }

    [Fact]
    public async Task ClientToken_AudienceIsClientUrl_CarriesUserId()
    {
        await using var services = Build();
        var connection = services.GetRequiredService<AzureSignalRConnection>();
        var url = connection.ClientUrl("labs");

        var result = await ValidateAsync(connection.Token(url, TimeSpan.FromHours(1), "user-7"), url);

        Assert.Equal(_endpoint.TrimEnd('/') + "/client/?hub=labs", url);
        Assert.True(result.IsValid);
        Assert.Equal("user-7", result.Claims["nameid"]);
    }

    [Fact]
    public async Task ServiceFailing_PublishLoggedNotThrown()
    {
        _status = 500;
        await using var services = Build();

        await services.GetRequiredService<INotifier>().NotifyAsync(Guid.NewGuid(), new LabNotification("warning", "expires in 5 minutes"));

        Assert.Single(_requests);
    }

    [Fact]
    public void ConnectionString_WithoutKey_Refused() =>
        Assert.Throws<FormatException>(() => AzureSignalRConnection.Parse("Endpoint=https://x.service.signalr.net;Version=1.0;"));
}
