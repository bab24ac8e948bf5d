using LabManager.Core.Ports;

namespace LabManager.Core.Tests;

public sealed class TutorOptionsTests
{
    [Fact]
    public void AzureOpenAi_WithTheManagedIdentity_NeedsAnHttpsEndpoint()
    {
        var identity = new TutorOptions { Provider = "azureopenai", Endpoint = "http://tutor.openai.azure.com", Deployment = "gpt" };
        Assert.Equal(
            "Tutor:Endpoint must be https with Tutor:Provider=azureopenai and no Tutor:ApiKey (a managed identity's token is sent only over TLS), not 'http://tutor.openai.azure.com'",
            Assert.Single(identity.Validate()));

        identity.ApiKey = "a-key";
        Assert.Empty(identity.Validate());
        identity.ApiKey = null;
        identity.Endpoint = "https://tutor.openai.azure.com";
        Assert.Empty(identity.Validate());
    }

    [Theory]
    [InlineData(null, null, "none")]
    [InlineData(null, "a-key", "anthropic")]
    [InlineData(" OpenAI ", "a-key", "openai")]
    public void EffectiveProvider_AnthropicWhenOnlyAKeyIsSet(string? provider, string? key, string effective) =>
        Assert.Equal(effective, new TutorOptions { Provider = provider, ApiKey = key }.EffectiveProvider);
}
