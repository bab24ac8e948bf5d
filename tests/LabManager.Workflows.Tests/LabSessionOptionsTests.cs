using LabManager.Workflows;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LabManager.Workflows.Tests;

/// <summary>The session settings as a host gets them from <see cref="WorkflowsServiceCollectionExtensions.AddLabWorkflows"/>.</summary>
public sealed class LabSessionOptionsTests
{
    private static LabSessionOptions Resolve(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))).Build();
        using var provider = new ServiceCollection().AddLabWorkflows(configuration).BuildServiceProvider();
        return provider.GetRequiredService<IOptions<LabSessionOptions>>().Value;
    }

    [Fact]
    public void OnAppService_LabsPhoneHomeToTheAppsOwnHost()
    {
        var options = Resolve(("WEBSITE_HOSTNAME", "labmanager-abc.azurewebsites.net"), ("LabSessions:PhoneHomeKey", "p"));
        Assert.Equal("https://labmanager-abc.azurewebsites.net/api/labs/instances/{instanceId}/ready?key={key}", options.PhoneHomeUrl);
        Assert.Equal("p", options.PhoneHomeKey);
    }

    [Fact]
    public void ThePhoneHomeKey_IsNeverTheJwtSigningKey()
    {
        // A VM can read its user_data, and so its key: a key derived from the signing key would put that secret's output on every VM.
        Assert.Null(Resolve(("Auth:SigningKey", "k")).PhoneHomeKey);
    }

    [Fact]
    public void AConfiguredPhoneHomeUrl_Wins()
    {
        var options = Resolve(("WEBSITE_HOSTNAME", "labmanager-abc.azurewebsites.net"), ("LabSessions:PhoneHomeUrl", "https://labs.example.org/ready/{instanceId}?key={key}"));
        Assert.Equal("https://labs.example.org/ready/{instanceId}?key={key}", options.PhoneHomeUrl);
    }

    [Fact]
    public void ElsewhereWithoutASetting_NoPhoneHome()
    {
        Assert.Null(Resolve(("Auth:SigningKey", "k")).PhoneHomeUrl);
    }
}
