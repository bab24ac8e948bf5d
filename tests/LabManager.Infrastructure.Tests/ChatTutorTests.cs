using LabManager.Core.Ports;
using LabManager.Infrastructure.Tutor;
using LabManager.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.Infrastructure.Tests;

/// <summary>The tutor as <see cref="InfrastructureServiceCollectionExtensions.AddTutor"/> registers it, on providers' fakes on loopback.</summary>
public sealed class ChatTutorTests
{
    [Fact]
    public async Task AzureOpenAi_WithoutAKey_AuthenticatesWithTheManagedIdentitysToken()
    {
        using var certificate = LoopbackApp.SelfSignedCertificate();
        await using var fake = await FakeOpenAi.StartAsync(certificate);
        fake.Answer = "Look at how the query is built.";
        // App Service's token endpoint is plain http on the app's host; what App Service sets for an app with an identity (only this test reads them).
        await using var identity = await FakeOpenAi.StartAsync();
        Environment.SetEnvironmentVariable("IDENTITY_ENDPOINT", new Uri(identity.Url, FakeOpenAi.IdentityPath).ToString());
        Environment.SetEnvironmentVariable("IDENTITY_HEADER", FakeOpenAi.IdentityHeader);
        try
        {
            var services = Tutor(("Tutor:Provider", "azureopenai"), ("Tutor:Endpoint", fake.Url.ToString()), ("Tutor:Deployment", "tutor-deployment"));
            // The fake's certificate is trusted by its thumbprint.
            services.AddHttpClient(ChatTutor.HttpClientName).ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == certificate.GetCertHashString() },
            });
            await using var provider = services.BuildServiceProvider();
            var tutor = provider.GetRequiredService<ITutor>();

            Assert.True(tutor.IsEnabled);
            Assert.Equal(fake.Answer, await tutor.AnswerAsync("You are a tutor.", "Where do I start?"));
            Assert.Equal(fake.Answer, string.Concat(await tutor.StreamAsync("You are a tutor.", "And then?").ToListAsync()));
        }
        finally
        {
            Environment.SetEnvironmentVariable("IDENTITY_ENDPOINT", null);
            Environment.SetEnvironmentVariable("IDENTITY_HEADER", null);
        }

        Assert.Equal(2, fake.Requests.Count);
        Assert.All(fake.Requests, r => Assert.Equal(("/openai/deployments/tutor-deployment/chat/completions", FakeOpenAi.IdentityToken), (r.Path, r.Credential)));
        // The token is for Azure AI services, asked for once and reused.
        Assert.Equal("https://cognitiveservices.azure.com", Assert.Single(identity.TokenResources));
    }

    [Theory]
    [InlineData(null, null, false)]
    [InlineData("none", "ignored", false)]
    [InlineData(null, "a-key", true)]
    [InlineData("OpenAI", "a-key", true)]
    public async Task IsOn_OnlyWithAProvider(string? name, string? key, bool on)
    {
        await using var provider = Tutor(("Tutor:Provider", name), ("Tutor:ApiKey", key), ("Tutor:Model", "a-model")).BuildServiceProvider();
        Assert.Equal(on, provider.GetRequiredService<ITutor>().IsEnabled);
    }

    private static ServiceCollection Tutor(params (string Key, string? Value)[] settings)
    {
        var services = new ServiceCollection();
        services.AddTutor(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, s.Value))).Build());
        return services;
    }
}
