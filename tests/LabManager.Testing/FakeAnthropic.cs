using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LabManager.Testing;

/// <summary>
/// A local stand-in for the Anthropic Messages API (<c>POST /v1/messages</c>) on 127.0.0.1: records every request
/// (API key and JSON body) and answers <see cref="Answer"/> as one text block.
/// </summary>
public sealed class FakeAnthropic : IAsyncDisposable
{
    private WebApplication _app = null!;

    public ConcurrentQueue<(string? ApiKey, JsonObject Body)> Requests { get; } = new();

    public string Answer { get; set; } = "Think about what a single quote does to the query.";

    public Uri Url { get; private set; } = null!;

    public static async Task<FakeAnthropic> StartAsync()
    {
        var fake = new FakeAnthropic();
        (fake._app, fake.Url) = await LoopbackApp.StartAsync(app => app.MapPost("/v1/messages", async (HttpContext http) =>
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
        }));
        return fake;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
