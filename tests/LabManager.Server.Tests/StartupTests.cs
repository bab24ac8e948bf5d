namespace LabManager.Server.Tests;

/// <summary>Settings a Server must refuse at start, naming the setting, rather than run in a way the operator did not ask for.</summary>
public sealed class StartupTests
{
    [Theory]
    [InlineData("AzureStorge")]
    [InlineData("1")]
    public async Task DurableBackend_Typo_RefusedAtStart(string backend)
    {
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerApp.BuildAsync(
            ["--Durable:Backend=" + backend, "--Vultr:ApiKey=unused", "--Vultr:BaseUrl=http://127.0.0.1:9/v2/"]));
        Assert.Equal($"Durable:Backend must be InMemory or AzureStorage, not '{backend}'", ex.Message);
    }
}
