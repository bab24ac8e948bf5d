using System.Diagnostics;
using System.Text.Json.Nodes;
using LabManager.Testing;

namespace LabManager.Functions.Tests;

/// <summary>infra/ compiles with the Bicep CLI without a warning, and sets exactly the app settings local.settings.sample.json lists.</summary>
public sealed class InfraTests
{
    private static readonly string Infra = Path.Combine(RepoPaths.Root, "infra");

    private static string Bicep()
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var bicep = Path.Combine(packages, "azure.bicep.commandline.linux-x64", "0.49.2", "tools", "bicep");
        File.SetUnixFileMode(bicep, File.GetUnixFileMode(bicep) | UnixFileMode.UserExecute);
        return bicep;
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var info = new ProcessStartInfo(Bicep()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }

    public static TheoryData<string> BicepFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Infra, "*.bicep", SearchOption.AllDirectories).Order())
        {
            data.Add(Path.GetRelativePath(Infra, file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(BicepFiles))]
    public void Bicep_CompilesAndLintsWithoutWarnings(string file)
    {
        // lint compiles too: any compiler or linter diagnostic is printed, and fails the test.
        var lint = Run("lint", Path.Combine(Infra, file));
        Assert.True(lint.Code == 0 && lint.Out.Length == 0 && lint.Err.Length == 0, $"bicep lint {file}: {lint.Out}{lint.Err}");
    }

    private static readonly Lazy<JsonNode> Template = new(() => JsonNode.Parse(Run("build", Path.Combine(Infra, "main.bicep"), "--stdout").Out)!);

    [Fact]
    public void AppSettings_SameListAsLocalSettingsSample()
    {
        var deployed = Sites(Template.Value).Single()["properties"]!["siteConfig"]!["appSettings"]!.AsArray()
            .Select(s => s!["name"]!.GetValue<string>())
            // Identity-based storage: the account name stands for the connection string used locally.
            .Select(n => n == "AzureWebJobsStorage__accountName" ? "AzureWebJobsStorage" : n)
            .Order();
        var local = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "local.settings.sample.json")))!["Values"]!.AsObject()
            .Select(kv => kv.Key)
            // Flex Consumption takes the runtime from functionAppConfig, not from an app setting.
            .Where(k => k != "FUNCTIONS_WORKER_RUNTIME")
            .Order();
        Assert.Equal(local, deployed);
    }

    [Fact]
    public void Secrets_AreKeyVaultReferences()
    {
        var settings = Sites(Template.Value).Single()["properties"]!["siteConfig"]!["appSettings"]!.AsArray()
            .ToDictionary(s => s!["name"]!.GetValue<string>(), s => s!["value"]!.ToJsonString());
        foreach (var secret in new[] { "Vultr__ApiKey", "Auth__SigningKey", "LabSessions__PhoneHomeKey", "Tutor__ApiKey", "ConnectionStrings__Postgres", "ConnectionStrings__Redis", "ConnectionStrings__AzureSignalR" })
        {
            Assert.Contains("@Microsoft.KeyVault(SecretUri=", settings[secret], StringComparison.Ordinal);
        }

        Assert.DoesNotContain(settings.Keys, k => k == "AzureWebJobsStorage");
    }

    [Fact]
    public void AzureOpenAi_OnlyWithTutorProviderAzureOpenAi_KeyLess_AndTheFunctionAppsIdentityMayUseIt()
    {
        var module = Resources(Template.Value).Single(r => r["name"]?.GetValue<string>() == "openai");
        Assert.Equal("[variables('azureTutor')]", module["condition"]!.GetValue<string>());
        Assert.Equal("[equals(variables('tutor'), 'azureopenai')]", Template.Value["variables"]!["azureTutor"]!.GetValue<string>());
        Assert.Equal("", Template.Value["parameters"]!["tutorProvider"]!["defaultValue"]!.GetValue<string>());
        Assert.Contains("'none'", Template.Value["variables"]!["tutor"]!.GetValue<string>(), StringComparison.Ordinal);

        var inner = Resources(module["properties"]!["template"]!).ToList();
        var account = inner.Single(r => r["type"]!.GetValue<string>() == "Microsoft.CognitiveServices/accounts");
        Assert.Equal("OpenAI", account["kind"]!.GetValue<string>());
        Assert.True(account["properties"]!["disableLocalAuth"]!.GetValue<bool>());
        Assert.Single(inner, r => r["type"]!.GetValue<string>() == "Microsoft.CognitiveServices/accounts/deployments");
        var role = inner.Single(r => r["type"]!.GetValue<string>() == "Microsoft.Authorization/roleAssignments");
        // Cognitive Services OpenAI User, for the Function App's system-assigned identity.
        Assert.Equal("5e0bd9bd-7b93-4f28-af87-19fc36ad61bd", module["properties"]!["template"]!["variables"]!["openAiUser"]!.GetValue<string>());
        Assert.Contains("variables('openAiUser')", role["properties"]!["roleDefinitionId"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("function", module["properties"]!["parameters"]!["principalId"]!.ToJsonString(), StringComparison.Ordinal);

        var settings = Sites(Template.Value).Single()["properties"]!["siteConfig"]!["appSettings"]!.AsArray()
            .ToDictionary(s => s!["name"]!.GetValue<string>(), s => s!["value"]!.GetValue<string>());
        Assert.Contains("tutorProvider", settings["Tutor__Provider"], StringComparison.Ordinal);
        // Without a key, no key is set (the identity is used), rather than the vault's placeholder.
        Assert.Contains("if(parameters('tutorKeyed')", settings["Tutor__ApiKey"], StringComparison.Ordinal);
    }

    private static IEnumerable<JsonObject> Resources(JsonNode template) => template["resources"] switch
    {
        JsonArray array => array.Select(r => r!.AsObject()),
        JsonObject map => map.Select(kv => kv.Value!.AsObject()),
        _ => [],
    };

    private static IEnumerable<JsonObject> Sites(JsonNode template)
    {
        foreach (var r in Resources(template))
        {
            var type = r["type"]!.GetValue<string>();
            if (type == "Microsoft.Resources/deployments")
            {
                foreach (var site in Sites(r["properties"]!["template"]!))
                {
                    yield return site;
                }
            }
            else if (type == "Microsoft.Web/sites")
            {
                yield return r;
            }
        }
    }
}
