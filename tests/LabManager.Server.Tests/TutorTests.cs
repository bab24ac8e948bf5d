using System.Net;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json.Nodes;
using LabManager.Testing;
using static LabManager.Server.Tests.ServerFixture;

namespace LabManager.Server.Tests;

/// <summary>
/// The Server with the tutor on a local fake of a provider's API (here Anthropic's Messages API, the default provider), 2 questions a
/// day. Each provider's fixture says how it is configured and what a request to its API must carry.
/// </summary>
public class TutorServer : ServerFixture
{
    public FakeModelApi Model { get; private set; } = null!;

    /// <summary>Where requests must go, the key or token they carry, and the model they name.</summary>
    public virtual (string Path, string Credential, string Model) Expected => ("/v1/messages", "test-anthropic-key", "claude-test-model");

    protected virtual async Task<FakeModelApi> StartModelAsync() => await FakeAnthropic.StartAsync();

    protected virtual IEnumerable<string> ProviderSettings => ["Tutor:ApiKey=test-anthropic-key", $"Tutor:Endpoint={Model.Url}", "Tutor:Model=claude-test-model"];

    /// <summary>The system prompt and the answer's token limit in a request's body, as this provider's API has them.</summary>
    public virtual (string System, int MaxTokens) Read(JsonObject body) => (body["system"]!.ToJsonString(), body["max_tokens"]!.GetValue<int>());

    protected override IEnumerable<string> Settings =>
        [.. base.Settings, .. ProviderSettings, "Tutor:MaxTokens=321", "Tutor:DailyQuestionsPerUser=2", "Api:MaxSubmissionsPerWindow=3"];

    public override async Task InitializeAsync()
    {
        Model = await StartModelAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Model.DisposeAsync();
    }
}

/// <summary>The tutor on an OpenAI-compatible endpoint (OpenAI, Cerebras, a local server): <c>/v1/chat/completions</c>.</summary>
public sealed class OpenAiTutorServer : TutorServer
{
    public override (string Path, string Credential, string Model) Expected => ("/v1/chat/completions", "test-openai-key", "llama-test-model");

    protected override async Task<FakeModelApi> StartModelAsync() => await FakeOpenAi.StartAsync();

    protected override IEnumerable<string> ProviderSettings =>
        ["Tutor:Provider=openai", "Tutor:ApiKey=test-openai-key", $"Tutor:Endpoint={Model.Url}v1", "Tutor:Model=llama-test-model"];

    public override (string System, int MaxTokens) Read(JsonObject body) => OpenAiRead(body);

    internal static (string System, int MaxTokens) OpenAiRead(JsonObject body)
    {
        var system = Assert.Single(body["messages"]!.AsArray(), m => m!["role"]!.GetValue<string>() == "system")!;
        return (system["content"]!.ToJsonString(), (body["max_completion_tokens"] ?? body["max_tokens"])!.GetValue<int>());
    }
}

/// <summary>The tutor on an Azure OpenAI deployment, by key: <c>/openai/deployments/{name}/chat/completions?api-version=</c>.</summary>
public sealed class AzureOpenAiTutorServer : TutorServer
{
    public override (string Path, string Credential, string Model) Expected => ("/openai/deployments/tutor-deployment/chat/completions", "test-azure-key", "tutor-deployment");

    protected override async Task<FakeModelApi> StartModelAsync() => await FakeOpenAi.StartAsync();

    protected override IEnumerable<string> ProviderSettings =>
        ["Tutor:Provider=azureopenai", "Tutor:ApiKey=test-azure-key", $"Tutor:Endpoint={Model.Url}", "Tutor:Deployment=tutor-deployment"];

    public override (string System, int MaxTokens) Read(JsonObject body) => OpenAiTutorServer.OpenAiRead(body);
}

// One collection: the three Servers run one after another (a few seconds each), not beside the heavier tests' Servers all at once.
[Collection(nameof(TutorTests<TutorServer>))]
public sealed class AnthropicTutorTests(TutorServer server) : TutorTests<TutorServer>(server);

[Collection(nameof(TutorTests<TutorServer>))]
public sealed class OpenAiTutorTests(OpenAiTutorServer server) : TutorTests<OpenAiTutorServer>(server);

[Collection(nameof(TutorTests<TutorServer>))]
public sealed class AzureOpenAiTutorTests(AzureOpenAiTutorServer server) : TutorTests<AzureOpenAiTutorServer>(server)
{
    [Fact]
    public async Task EveryRequest_CarriesTheApiVersion()
    {
        await AskAsync(Server.Token(Guid.NewGuid()), "Where do I start?");
        Assert.All(Server.Model.Requests, r => Assert.Equal("?api-version=2024-10-21", r.Query));
    }
}

/// <summary>The tutor through the HTTP API, whole and streamed, the same whatever the provider: the prompt, the redaction, the quota.</summary>
public abstract class TutorTests<T>(T server) : IClassFixture<T>
    where T : TutorServer
{
    protected T Server { get; } = server;

    protected const string DvwaAdminHash = "5f4dcc3b5aa765d61d8327deb882cf99";
    private const string Redacted = "Close! The hash is [redacted]. Try ORDER BY.";

    protected Task<(HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)> AskAsync(string token, string question) =>
        Server.SendAsync(HttpMethod.Post, $"/api/labs/{DvwaLab}/tutor", token, $$"""{"question": "{{question}}"}""");

    [Fact]
    public async Task Answers_WithTheLabInItsPrompt_NeverAFlag_AndCountsTheDailyQuota()
    {
        var token = Server.Token(Guid.NewGuid());
        await Server.SendAsync(HttpMethod.Post, $"/api/labs/{DvwaLab}/exercises/sqli-dump/hints/h2", token);
        Server.Model.Answer = $"Close! The hash is {DvwaAdminHash}. Try ORDER BY.";
        Server.Model.Requests.Clear();

        var (status, body, _) = await AskAsync(token, "How do I find the number of columns?");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(Redacted, body["data"]!["answer"]!.GetValue<string>());
        var request = Assert.Single(Server.Model.Requests);
        Assert.Equal((Server.Expected.Path, Server.Expected.Credential), (request.Path, request.Credential));
        Assert.Equal(Server.Expected.Model, request.Body["model"]!.GetValue<string>());
        Assert.False(request.Streamed);
        var (system, maxTokens) = Server.Read(request.Body);
        Assert.Equal(321, maxTokens);
        Assert.Contains("Find and exploit SQL injection in the Damn Vulnerable Web Application", system, StringComparison.Ordinal);
        Assert.Contains("Use UNION-based extraction", system, StringComparison.Ordinal);
        Assert.Contains("The table is called users; the columns user and password.", system, StringComparison.Ordinal);
        Assert.DoesNotContain("Find the number of columns with ORDER BY first.", system, StringComparison.Ordinal);
        var sent = request.Body.ToJsonString();
        Assert.DoesNotContain(DvwaAdminHash, sent, StringComparison.Ordinal);
        Assert.DoesNotContain(Core.Labs.Flags.Hash(DvwaAdminHash), sent, StringComparison.Ordinal);
        Assert.DoesNotContain("error in your SQL syntax", sent, StringComparison.Ordinal);
        Assert.Contains("How do I find the number of columns?", request.Body["messages"]!.ToJsonString(), StringComparison.Ordinal);

        // A streamed question counts as one too.
        Assert.Equal(HttpStatusCode.OK, (await StreamAsync(token, "And then?")).Status);
        var (third, refused, _) = await AskAsync(token, "One more?");
        Assert.Equal(HttpStatusCode.TooManyRequests, third);
        Assert.StartsWith("You have asked the tutor 2 questions today", refused["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var (fourth, _) = await StreamAsync(token, "Really one more?");
        Assert.Equal(HttpStatusCode.TooManyRequests, fourth);
        Assert.Equal(2, Server.Model.Requests.Count);

        var features = (await Server.SendAsync(HttpMethod.Get, "/api/features")).Body["data"]!;
        Assert.True(features["tutor"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Streams_TheAnswerAsItComes_AndAFlagSplitAcrossChunksIsNeverSent()
    {
        Server.Model.Chunks = ["Close! The ", "hash is 5f4dcc3b", "5aa765d61d83", "27deb882cf99. Try ", "ORDER BY."];
        Server.Model.Requests.Clear();

        var (status, events) = await StreamAsync(Server.Token(Guid.NewGuid()), "What is the hash?");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(Assert.Single(Server.Model.Requests).Streamed);
        var deltas = events.Where(e => e.EventType == "delta").Select(e => JsonNode.Parse(e.Data)!["text"]!.GetValue<string>()).ToList();
        Assert.True(deltas.Count >= 3, $"the answer came in {deltas.Count} pieces");
        Assert.Equal(Redacted, string.Concat(deltas));
        foreach (var piece in new[] { "5f4dcc3b", "5aa765d61d83", "27deb882cf99" })
        {
            Assert.All(events, e => Assert.DoesNotContain(piece, e.Data, StringComparison.Ordinal));
        }

        var done = Assert.Single(events, e => e.EventType == "done");
        Assert.Equal(Redacted, JsonNode.Parse(done.Data)!["answer"]!.GetValue<string>());
        Assert.Equal("done", events[^1].EventType);
    }

    [Fact]
    public async Task Stream_BrokenOffByTheModel_EndsWithAnErrorEvent()
    {
        Server.Model.Chunks = ["Start with ", "the columns."];
        Server.Model.FailAfterChunks = 1;
        try
        {
            var (status, events) = await StreamAsync(Server.Token(Guid.NewGuid()), "Where do I start?");

            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("Start with ", JsonNode.Parse(Assert.Single(events, e => e.EventType == "delta").Data)!["text"]!.GetValue<string>());
            Assert.Equal("error", events[^1].EventType);
            Assert.Equal("The tutor could not answer right now; try again shortly", JsonNode.Parse(events[^1].Data)!["message"]!.GetValue<string>());
            Assert.DoesNotContain(events, e => e.EventType == "done");
        }
        finally
        {
            Server.Model.FailAfterChunks = null;
        }
    }

    /// <summary>Asks for the answer as server-sent events; a refusal is the usual JSON envelope (no events).</summary>
    private async Task<(HttpStatusCode Status, List<SseItem<string>> Events)> StreamAsync(string token, string question)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/labs/{DvwaLab}/tutor")
        {
            Content = new StringContent($$"""{"question": "{{question}}"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await Server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = new List<SseItem<string>>();
        if (response.IsSuccessStatusCode)
        {
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync())
            {
                events.Add(item);
            }
        }
        else
        {
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        }

        return (response.StatusCode, events);
    }
}
