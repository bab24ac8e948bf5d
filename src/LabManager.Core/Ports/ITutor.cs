namespace LabManager.Core.Ports;

/// <summary>The AI tutor: answers a learner's question under a system prompt.</summary>
public interface ITutor
{
    /// <summary>False when no API key is configured: the tutor route answers 503 and nothing else changes.</summary>
    bool IsEnabled { get; }

    Task<string> AnswerAsync(string systemPrompt, string question, CancellationToken cancellationToken = default);
}

/// <summary>Settings of section <c>Tutor</c>.</summary>
public sealed class TutorOptions
{
    public const string Section = "Tutor";

    /// <summary>Anthropic API key; without one the tutor is off (503) and everything else works.</summary>
    public string? ApiKey { get; set; }

    public string Model { get; set; } = "claude-sonnet-4-5";

    /// <summary>The Messages API's base URL; the SDK's default when empty.</summary>
    public string? Endpoint { get; set; }

    public int MaxTokens { get; set; } = 600;

    /// <summary>Questions one learner may ask per UTC day.</summary>
    public int DailyQuestionsPerUser { get; set; } = 20;

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);
}
