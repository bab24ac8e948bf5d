namespace LabManager.Core.Ports;

/// <summary>The AI tutor: answers a learner's question under a system prompt, whole or as it is produced.</summary>
public interface ITutor
{
    /// <summary>False when no provider is configured: the tutor route answers 503 and nothing else changes.</summary>
    bool IsEnabled { get; }

    Task<string> AnswerAsync(string systemPrompt, string question, CancellationToken cancellationToken = default);

    /// <summary>The answer in the pieces the model produces it in (unredacted: see <see cref="Labs.FlagRedactor"/>).</summary>
    IAsyncEnumerable<string> StreamAsync(string systemPrompt, string question, CancellationToken cancellationToken = default);
}

/// <summary>Settings of section <c>Tutor</c>: which model answers, and how much a learner may ask.</summary>
public sealed class TutorOptions
{
    public const string Section = "Tutor";

    public const string None = "none";
    public const string Anthropic = "anthropic";
    public const string OpenAi = "openai";
    public const string AzureOpenAi = "azureopenai";

    /// <summary>
    /// <c>anthropic</c> (the Messages API), <c>openai</c> (any OpenAI-compatible endpoint: OpenAI, Cerebras, a local server),
    /// <c>azureopenai</c> (a deployment of an Azure OpenAI resource, by key or managed identity) or <c>none</c>. Empty:
    /// <c>anthropic</c> when <see cref="ApiKey"/> is set, otherwise <c>none</c>.
    /// </summary>
    public string? Provider { get; set; }

    /// <summary>The provider's key; for <c>azureopenai</c> without one, the app's managed identity is used.</summary>
    public string? ApiKey { get; set; }

    /// <summary>The model (<c>anthropic</c>: <see cref="DefaultAnthropicModel"/> when empty; <c>openai</c>: required).</summary>
    public string? Model { get; set; }

    public const string DefaultAnthropicModel = "claude-sonnet-4-5";

    /// <summary>
    /// The API's base URL: <c>anthropic</c> the SDK's default when empty; <c>openai</c> e.g. https://api.cerebras.ai/v1
    /// (OpenAI's own when empty); <c>azureopenai</c> the resource, https://&lt;name&gt;.openai.azure.com (required).
    /// </summary>
    public string? Endpoint { get; set; }

    /// <summary><c>azureopenai</c>: the model deployment's name (required).</summary>
    public string? Deployment { get; set; }

    /// <summary><c>azureopenai</c>: the data-plane API version sent with every request.</summary>
    public string ApiVersion { get; set; } = "2024-10-21";

    /// <summary><c>azureopenai</c> without a key: a user-assigned identity's client id; empty for the system-assigned one.</summary>
    public string? ManagedIdentityClientId { get; set; }

    public int MaxTokens { get; set; } = 600;

    /// <summary>Questions one learner may ask per UTC day.</summary>
    public int DailyQuestionsPerUser { get; set; } = 20;

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The provider in effect (lower case), after the empty default is applied.</summary>
    public string EffectiveProvider =>
        string.IsNullOrWhiteSpace(Provider) ? (string.IsNullOrEmpty(ApiKey) ? None : Anthropic) : Provider.Trim().ToLowerInvariant();

    /// <summary>What is wrong with these settings, each naming its setting; empty when the tutor can run as configured.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var provider = EffectiveProvider;
        void Require(string? value, string setting, string what = "")
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                errors.Add($"Tutor:{setting} is required with Tutor:Provider={provider}{what}");
            }
        }

        switch (provider)
        {
            case None:
                return errors;
            case Anthropic:
                Require(ApiKey, "ApiKey");
                break;
            case OpenAi:
                Require(ApiKey, "ApiKey", " (a local server takes any value)");
                Require(Model, "Model");
                break;
            case AzureOpenAi:
                Require(Endpoint, "Endpoint", " (https://<resource>.openai.azure.com)");
                Require(Deployment, "Deployment");
                Require(ApiVersion, "ApiVersion");
                break;
            default:
                errors.Add($"Tutor:Provider must be {None}, {Anthropic}, {OpenAi} or {AzureOpenAi}, not '{Provider}'");
                return errors;
        }

        if (!string.IsNullOrWhiteSpace(Endpoint) && !(Uri.TryCreate(Endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            errors.Add($"Tutor:Endpoint must be an http(s) URL, not '{Endpoint}'");
        }

        if (provider == AzureOpenAi && string.IsNullOrEmpty(ApiKey) && Uri.TryCreate(Endpoint, UriKind.Absolute, out var resource) && resource.Scheme != "https")
        {
            errors.Add($"Tutor:Endpoint must be https with Tutor:Provider=azureopenai and no Tutor:ApiKey (a managed identity's token is sent only over TLS), not '{Endpoint}'");
        }

        if (MaxTokens < 1 || DailyQuestionsPerUser < 0 || Timeout <= TimeSpan.Zero)
        {
            errors.Add("Tutor:MaxTokens and Tutor:Timeout must be positive, Tutor:DailyQuestionsPerUser not negative");
        }

        return errors;
    }
}
