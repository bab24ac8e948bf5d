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

    [Theory]
    [InlineData("https://academy.example.com/")]
    [InlineData("academy.example.com")]
    public async Task AllowedOrigin_NotAnOrigin_RefusedAtStart(string origin)
    {
        await using var app = await ServerApp.BuildAsync(
            ["--Api:AllowedOrigins:0=" + origin, "--Auth:SigningKey=startup-test-signing-key-0123456789abcdef", "--Vultr:ApiKey=unused", "--Access:GatewayCidrs:0=127.0.0.1/32",
             "--Vultr:BaseUrl=http://127.0.0.1:9/v2/", "--ConnectionStrings:Postgres=Host=127.0.0.1;Port=9"]);
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => app.StartAsync());
        Assert.Contains("Api:AllowedOrigins entries must be origins", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Tutor:Provider=cerebras", "Tutor:Provider must be none, anthropic, openai or azureopenai, not 'cerebras'")]
    [InlineData("Tutor:Provider=openai", "Tutor:Model is required with Tutor:Provider=openai")]
    [InlineData("Tutor:Provider=azureopenai", "Tutor:Deployment is required with Tutor:Provider=azureopenai")]
    [InlineData("Tutor:Endpoint=api.cerebras.ai/v1", "Tutor:Endpoint must be an http(s) URL, not 'api.cerebras.ai/v1'")]
    public async Task Tutor_UnknownProviderOrMissingSetting_RefusedAtStart(string setting, string error)
    {
        await using var app = await ServerApp.BuildAsync(
            ["--Tutor:ApiKey=a-key", "--Tutor:Endpoint=https://example.openai.azure.com", "--Auth:SigningKey=startup-test-signing-key-0123456789abcdef",
             "--Vultr:ApiKey=unused", "--Access:GatewayCidrs:0=127.0.0.1/32", "--Vultr:BaseUrl=http://127.0.0.1:9/v2/", "--ConnectionStrings:Postgres=Host=127.0.0.1;Port=9",
             "--" + setting]);
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => app.StartAsync());
        Assert.Contains(error, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GatewayMode_WithoutTheGatewaysAddresses_RefusedAtStart()
    {
        // Every lab's web ports would be open to nobody: the operator is told which setting is missing.
        await using var app = await ServerApp.BuildAsync(
            ["--Auth:SigningKey=startup-test-signing-key-0123456789abcdef", "--Vultr:ApiKey=unused", "--Vultr:BaseUrl=http://127.0.0.1:9/v2/",
             "--ConnectionStrings:Postgres=Host=127.0.0.1;Port=9"]);
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => app.StartAsync());
        Assert.Contains("Access:GatewayCidrs must name the gateway's egress addresses", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutDurableBackend_TheServerSaysItsSessionsAreLostOnARestart_AndHowToKeepThem()
    {
        var storage = Environment.GetEnvironmentVariable("LABMANAGER_TEST_AZURITE")
            ?? throw new InvalidOperationException("LABMANAGER_TEST_AZURITE is not set: run the tests with ./scripts/test.sh, which starts Azurite");
        await using var lab = await LabManager.Testing.ServerProcesses.StartAsync(storage, [], ["Durable:Backend="]);

        var log = lab.Tail(100);
        Assert.Contains("Durable:Backend is not set (InMemory)", log, StringComparison.Ordinal);
        Assert.Contains("every lab session in progress is lost when the Server stops or crashes", log, StringComparison.Ordinal);
        Assert.Contains("set Durable:Backend=AzureStorage and Durable:StorageConnectionString", log, StringComparison.Ordinal);
    }
}
