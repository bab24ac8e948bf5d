using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LabManager.Testing;

/// <summary>One request a fake model API received: its path and query, the key or token it carried, and its JSON body.</summary>
public sealed record FakeModelRequest(string Path, string Query, string? Credential, JsonObject Body)
{
    public bool Streamed => Body["stream"]?.GetValue<bool>() == true;
}

/// <summary>
/// A local stand-in for a model provider's API on 127.0.0.1: records every request and answers <see cref="Chunks"/>, whole or, when
/// the request asks to stream, as that provider's server-sent events, one chunk each <see cref="ChunkDelay"/>. With
/// <see cref="FailAfterChunks"/> set, a stream breaks off after that many chunks.
/// </summary>
public abstract class FakeModelApi : IAsyncDisposable
{
    private WebApplication _app = null!;

    public ConcurrentQueue<FakeModelRequest> Requests { get; } = new();

    public IReadOnlyList<string> Chunks { get; set; } = ["Think about what a single quote ", "does to the query."];

    /// <summary>The whole answer; setting it answers in one chunk.</summary>
    public string Answer
    {
        get => string.Concat(Chunks);
        set => Chunks = [value];
    }

    public TimeSpan ChunkDelay { get; set; }

    public int? FailAfterChunks { get; set; }

    public Uri Url { get; private set; } = null!;

    protected static async Task<T> StartAsync<T>(T fake, Action<WebApplication> map, X509Certificate2? certificate = null)
        where T : FakeModelApi
    {
        (fake._app, fake.Url) = await LoopbackApp.StartAsync(map, certificate);
        return fake;
    }

    /// <summary>Reads and records a request; the credential is <c>x-api-key</c>, <c>api-key</c> or the bearer token, whichever came.</summary>
    protected async Task<FakeModelRequest> RecordAsync(HttpContext http)
    {
        var headers = http.Request.Headers;
        var credential = headers["x-api-key"].FirstOrDefault() ?? headers["api-key"].FirstOrDefault()
            ?? headers.Authorization.FirstOrDefault()?.Replace("Bearer ", "", StringComparison.Ordinal);
        var request = new FakeModelRequest(http.Request.Path, http.Request.QueryString.Value ?? "", credential,
            (await JsonNode.ParseAsync(http.Request.Body))!.AsObject());
        Requests.Enqueue(request);
        return request;
    }

    /// <summary>Writes <paramref name="events"/> (event name or null, data) as server-sent events, a chunk's events after each delay.</summary>
    protected async Task StreamAsync(HttpContext http, IEnumerable<(string? Event, JsonNode Data)> start, Func<string, IEnumerable<(string? Event, JsonNode Data)>> chunk,
        IEnumerable<(string? Event, JsonNode Data)> end, string? last = null)
    {
        http.Response.ContentType = "text/event-stream";
        await WriteAsync(http, start);
        var sent = 0;
        foreach (var piece in Chunks)
        {
            if (sent++ == FailAfterChunks)
            {
                // A reset discards what the client has not read yet: give it time to read what was sent.
                await Task.Delay(TimeSpan.FromMilliseconds(300));
                http.Abort();
                return;
            }

            await Task.Delay(ChunkDelay);
            await WriteAsync(http, chunk(piece));
        }

        await WriteAsync(http, end);
        if (last is not null)
        {
            await http.Response.WriteAsync($"data: {last}\n\n");
        }
    }

    private static async Task WriteAsync(HttpContext http, IEnumerable<(string? Event, JsonNode Data)> events)
    {
        var text = new StringBuilder();
        foreach (var (name, data) in events)
        {
            text.Append(name is null ? "" : $"event: {name}\n").Append($"data: {data.ToJsonString()}\n\n");
        }

        await http.Response.WriteAsync(text.ToString());
        await http.Response.Body.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Anthropic's Messages API, <c>POST /v1/messages</c>: a message with one text block, or its streaming events.</summary>
public sealed class FakeAnthropic : FakeModelApi
{
    public static Task<FakeAnthropic> StartAsync()
    {
        var fake = new FakeAnthropic();
        return StartAsync(fake, app => app.MapPost("/v1/messages", async (HttpContext http) =>
        {
            var request = await fake.RecordAsync(http);
            var model = request.Body["model"]?.GetValue<string>();
            var usage = new JsonObject { ["input_tokens"] = 100, ["output_tokens"] = 20 };
            if (!request.Streamed)
            {
                await http.Response.WriteAsJsonAsync(Message(model, new JsonArray(new JsonObject { ["type"] = "text", ["text"] = fake.Answer }), "end_turn", usage));
                return;
            }

            await fake.StreamAsync(http,
                [("message_start", new JsonObject { ["type"] = "message_start", ["message"] = Message(model, [], null, usage) }),
                 ("content_block_start", new JsonObject { ["type"] = "content_block_start", ["index"] = 0, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" } })],
                piece => [("content_block_delta", new JsonObject
                {
                    ["type"] = "content_block_delta", ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = piece },
                })],
                [("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = 0 }),
                 ("message_delta", new JsonObject
                 {
                     ["type"] = "message_delta", ["delta"] = new JsonObject { ["stop_reason"] = "end_turn", ["stop_sequence"] = null },
                     ["usage"] = new JsonObject { ["output_tokens"] = 20 },
                 }),
                 ("message_stop", new JsonObject { ["type"] = "message_stop" })]);
        }));
    }

    private static JsonObject Message(string? model, JsonArray content, string? stop, JsonObject usage) => new()
    {
        ["id"] = "msg_" + Guid.NewGuid().ToString("N"),
        ["type"] = "message",
        ["role"] = "assistant",
        ["model"] = model,
        ["content"] = content,
        ["stop_reason"] = stop,
        ["stop_sequence"] = null,
        ["usage"] = usage.DeepClone(),
    };
}

/// <summary>
/// OpenAI's Chat Completions API, whole or streamed: at <c>POST /v1/chat/completions</c> (OpenAI and compatible servers) and at
/// an Azure OpenAI deployment's route, <c>POST /openai/deployments/{name}/chat/completions?api-version=</c> (401 without an
/// <c>api-key</c> or bearer token, 400 without an api-version). For managed identity it also plays App Service's token endpoint at
/// <see cref="IdentityPath"/>, which hands out <see cref="IdentityToken"/> for the header <see cref="IdentityHeader"/>.
/// </summary>
public sealed class FakeOpenAi : FakeModelApi
{
    public const string IdentityPath = "/msi/token";
    public const string IdentityHeader = "fake-identity-header";
    public const string IdentityToken = "token-from-managed-identity";

    /// <summary>The resources managed-identity tokens were asked for.</summary>
    public ConcurrentQueue<string> TokenResources { get; } = new();

    /// <summary>Starts the fake, on https with <paramref name="certificate"/> (Azure's endpoints take a bearer token over TLS only).</summary>
    public static Task<FakeOpenAi> StartAsync(X509Certificate2? certificate = null)
    {
        var fake = new FakeOpenAi();
        return StartAsync(fake, app =>
        {
            app.MapPost("/v1/chat/completions", fake.CompleteAsync);
            app.MapPost("/openai/deployments/{deployment}/chat/completions", async (HttpContext http) =>
            {
                if (string.IsNullOrEmpty(http.Request.Query["api-version"]))
                {
                    http.Response.StatusCode = 400;
                    await http.Response.WriteAsJsonAsync(Error("missing required query parameter api-version"));
                    return;
                }

                if (http.Request.Headers["api-key"].Count == 0 && http.Request.Headers.Authorization.Count == 0)
                {
                    http.Response.StatusCode = 401;
                    await http.Response.WriteAsJsonAsync(Error("Access denied due to missing subscription key or token"));
                    return;
                }

                await fake.CompleteAsync(http);
            });
            app.MapGet(IdentityPath, (HttpContext http) =>
            {
                if (http.Request.Headers["X-IDENTITY-HEADER"] != IdentityHeader)
                {
                    return Results.StatusCode(401);
                }

                fake.TokenResources.Enqueue(http.Request.Query["resource"].ToString());
                return Results.Json(new JsonObject
                {
                    ["access_token"] = IdentityToken,
                    ["expires_on"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["resource"] = http.Request.Query["resource"].ToString(),
                    ["token_type"] = "Bearer",
                });
            });
        }, certificate);
    }

    private async Task CompleteAsync(HttpContext http)
    {
        var request = await RecordAsync(http);
        var model = request.Body["model"]?.GetValue<string>();
        if (!request.Streamed)
        {
            await http.Response.WriteAsJsonAsync(Completion("chat.completion", model, new JsonObject
            {
                ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = Answer }, ["finish_reason"] = "stop",
            }));
            return;
        }

        await StreamAsync(http,
            [(null, Completion("chat.completion.chunk", model, Delta(new JsonObject { ["role"] = "assistant", ["content"] = "" }, null)))],
            piece => [(null, Completion("chat.completion.chunk", model, Delta(new JsonObject { ["content"] = piece }, null)))],
            [(null, Completion("chat.completion.chunk", model, Delta([], "stop")))],
            last: "[DONE]");
    }

    private static JsonObject Delta(JsonObject delta, string? finish) => new() { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish };

    private static JsonObject Completion(string type, string? model, JsonObject choice) => new()
    {
        ["id"] = "chatcmpl-" + Guid.NewGuid().ToString("N"),
        ["object"] = type,
        ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["model"] = model,
        ["choices"] = new JsonArray(choice),
    };

    private static JsonObject Error(string message) => new() { ["error"] = new JsonObject { ["message"] = message, ["code"] = "invalid_request" } };
}
