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

    private static IEnumerable<JsonObject> Sites(JsonNode template)
    {
        var resources = template["resources"] switch
        {
            JsonArray array => array.Select(r => r!.AsObject()),
            JsonObject map => map.Select(kv => kv.Value!.AsObject()),
            _ => [],
        };
        foreach (var r in resources)
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
