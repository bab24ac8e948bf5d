using Anthropic;
using Anthropic.Models.Messages;
using LabManager.Core.Ports;
using Microsoft.Extensions.Options;

namespace LabManager.Infrastructure.Tutor;

/// <summary>The tutor on the official Anthropic SDK (Messages API).</summary>
public sealed class AnthropicTutor(IOptions<TutorOptions> options) : ITutor, IDisposable
{
    private readonly Lazy<AnthropicClient> _client = new(() => new AnthropicClient
    {
        ApiKey = options.Value.ApiKey,
        BaseUrl = string.IsNullOrEmpty(options.Value.Endpoint) ? new Anthropic.Core.ClientOptions().BaseUrl : options.Value.Endpoint,
        Timeout = options.Value.Timeout,
        MaxRetries = 2,
    });

    public bool IsEnabled => !string.IsNullOrEmpty(options.Value.ApiKey);

    public async Task<string> AnswerAsync(string systemPrompt, string question, CancellationToken cancellationToken = default)
    {
        var message = await _client.Value.Messages.Create(new MessageCreateParams
        {
            Model = options.Value.Model,
            MaxTokens = options.Value.MaxTokens,
            System = systemPrompt,
            Messages = [new UserMessageParam(question)],
        }, cancellationToken);
        return string.Concat(message.Content.Select(block => block.TryPickText(out var text) ? text.Text : ""));
    }

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            _client.Value.Dispose();
        }
    }
}
