using System.ClientModel;
using System.ClientModel.Primitives;
using System.Runtime.CompilerServices;
using Anthropic;
using Azure.Identity;
using LabManager.Core.Ports;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;
using OpenAI.Chat;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace LabManager.Infrastructure.Tutor;

/// <summary>
/// The tutor on an <see cref="IChatClient"/> of the configured provider (<see cref="TutorOptions.Provider"/>): Anthropic's SDK,
/// OpenAI's SDK for any OpenAI-compatible endpoint, or the same SDK on an Azure OpenAI deployment's route. The prompt, the
/// quota and the redaction are the caller's and do not depend on the provider.
/// </summary>
public sealed class ChatTutor(IOptions<TutorOptions> options, IHttpClientFactory http) : ITutor, IDisposable
{
    /// <summary>The HTTP client every provider is reached with (no timeout of its own: <see cref="TutorOptions.Timeout"/> applies).</summary>
    public const string HttpClientName = "tutor";

    private readonly Lazy<IChatClient?> _client = new(() => Create(options.Value, http.CreateClient(HttpClientName)));

    public bool IsEnabled => options.Value.EffectiveProvider != TutorOptions.None;

    private IChatClient Client => _client.Value ?? throw new InvalidOperationException("The tutor is not configured (Tutor:Provider)");

    public async Task<string> AnswerAsync(string systemPrompt, string question, CancellationToken cancellationToken = default) =>
        (await Client.GetResponseAsync(Messages(systemPrompt, question), ChatOptions(), cancellationToken)).Text;

    public async IAsyncEnumerable<string> StreamAsync(string systemPrompt, string question, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var update in Client.GetStreamingResponseAsync(Messages(systemPrompt, question), ChatOptions(), cancellationToken))
        {
            if (update.Text is { Length: > 0 } text)
            {
                yield return text;
            }
        }
    }

    private static ChatMessage[] Messages(string systemPrompt, string question) =>
        [new(ChatRole.System, systemPrompt), new(ChatRole.User, question)];

    private ChatOptions ChatOptions() => new() { MaxOutputTokens = options.Value.MaxTokens };

    /// <summary>The provider's chat client, or null for <c>none</c>; the settings were validated at start (<see cref="TutorOptions.Validate"/>).</summary>
    private static IChatClient? Create(TutorOptions o, HttpClient http)
    {
        switch (o.EffectiveProvider)
        {
            case TutorOptions.Anthropic:
                var anthropic = new AnthropicClient
                {
                    ApiKey = o.ApiKey,
                    BaseUrl = string.IsNullOrEmpty(o.Endpoint) ? new Anthropic.Core.ClientOptions().BaseUrl : o.Endpoint,
                    Timeout = o.Timeout,
                    MaxRetries = 2,
                    HttpClient = http,
                };
                return anthropic.AsIChatClient(string.IsNullOrEmpty(o.Model) ? TutorOptions.DefaultAnthropicModel : o.Model);
            case TutorOptions.OpenAi:
                var openAi = new OpenAIClientOptions { NetworkTimeout = o.Timeout, Transport = new HttpClientPipelineTransport(http) };
                if (!string.IsNullOrEmpty(o.Endpoint))
                {
                    openAi.Endpoint = new Uri(o.Endpoint);
                }

                return new ChatClient(o.Model, new ApiKeyCredential(o.ApiKey!), openAi).AsIChatClient();
            case TutorOptions.AzureOpenAi:
                return AzureDeployment(o, http);
            default:
                return null;
        }
    }

    /// <summary>
    /// An Azure OpenAI deployment through OpenAI's SDK on its route (<c>/openai/deployments/{name}/chat/completions?api-version=</c>),
    /// authenticated with the <c>api-key</c> header, or without a key by a bearer token of the app's managed identity.
    /// (Azure.AI.OpenAI, which does the same, is bound to internals of one OpenAI SDK version and fails at run time beside the
    /// version Microsoft.Extensions.AI.OpenAI needs.)
    /// </summary>
    private static IChatClient AzureDeployment(TutorOptions o, HttpClient http)
    {
        var options = new OpenAIClientOptions
        {
            Endpoint = new Uri($"{o.Endpoint!.TrimEnd('/')}/openai/deployments/{Uri.EscapeDataString(o.Deployment!)}"),
            NetworkTimeout = o.Timeout,
            Transport = new HttpClientPipelineTransport(http),
        };
        options.AddPolicy(new ApiVersionPolicy(o.ApiVersion), PipelinePosition.PerCall);
        AuthenticationPolicy auth = !string.IsNullOrEmpty(o.ApiKey)
            ? ApiKeyAuthenticationPolicy.CreateHeaderApiKeyPolicy(new ApiKeyCredential(o.ApiKey), "api-key")
            : new BearerTokenPolicy(
                new ManagedIdentityCredential(string.IsNullOrEmpty(o.ManagedIdentityClientId)
                    ? ManagedIdentityId.SystemAssigned : ManagedIdentityId.FromUserAssignedClientId(o.ManagedIdentityClientId)),
                "https://cognitiveservices.azure.com/.default");
#pragma warning disable OPENAI001 // The SDK's documented way to authenticate otherwise than with a bearer API key.
        return new ChatClient(o.Deployment, auth, options).AsIChatClient();
#pragma warning restore OPENAI001
    }

    /// <summary>Adds Azure OpenAI's <c>api-version</c> query parameter to every request.</summary>
    private sealed class ApiVersionPolicy(string version) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            AddVersion(message);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            AddVersion(message);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }

        private void AddVersion(PipelineMessage message)
        {
            var uri = message.Request.Uri!;
            message.Request.Uri = new Uri($"{uri}{(string.IsNullOrEmpty(uri.Query) ? "?" : "&")}api-version={Uri.EscapeDataString(version)}");
        }
    }

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            (_client.Value as IDisposable)?.Dispose();
        }
    }
}
