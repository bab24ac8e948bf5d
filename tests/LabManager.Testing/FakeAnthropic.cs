using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LabManager.Testing;

/// <summary>
/// A local stand-in for the Anthropic Messages API (<c>POST /v1/messages</c>) on 127.0.0.1: records every request
/// (API key and JSON body) and answers <see cref="Answer"/> as one text block.
/// </summary>
public sealed class FakeAnthropic : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeAnthropic(WebApplication app) => _app = app;

    public ConcurrentQueue<(string? ApiKey, JsonObject Body)> Requests { get; } = new();

    public string Answer { get; set; } = "Think about what a single quote does to the query.";

    public Uri Url { get; private set; } = null!;

    public static async Task<FakeAnthropic> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        var fake = new FakeAnthropic(app);
        app.MapPost("/v1/messages", async (HttpContext http) =>
        {
            var body = (await JsonNode.ParseAsync(http.Request.Body))!.AsObject();
            // The SDK sends the key as x-api-key or as a bearer token.
            var key = http.Request.Headers["x-api-key"].FirstOrDefault()
                ?? http.Request.Headers.Authorization.FirstOrDefault()?.Replace("Bearer ", "", StringComparison.Ordinal);
            fake.Requests.Enqueue((key, body));
            return Results.Json(new JsonObject
            {
                ["id"] = "msg_" + Guid.NewGuid().ToString("N"),
                ["type"] = "message",
                ["role"] = "assistant",
                ["model"] = body["model"]?.GetValue<string>(),
                ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = fake.Answer }),
                ["stop_reason"] = "end_turn",
                ["stop_sequence"] = null,
                ["usage"] = new JsonObject { ["input_tokens"] = 100, ["output_tokens"] = 20 },
            });
        });
        await app.StartAsync();
        fake.Url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return fake;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
