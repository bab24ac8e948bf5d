using LabManager.Testing;
using Xunit.Abstractions;

namespace LabManager.Server.Tests;

/// <summary>
/// The chaos run at CI size (<see cref="ChaosRun"/>): labs started concurrently under emulator faults with the Server killed
/// and restarted; nothing may leak or be left inconsistent. <c>./scripts/bench.sh chaos</c> runs it bigger.
/// </summary>
[Collection(ServerProcessTests.Collection)]
public sealed class ChaosTests(ITestOutputHelper output)
{
    [Fact]
    public async Task LabsUnderFaultsAndKills_NoVmLeaked_NothingInconsistent()
    {
        var storage = Environment.GetEnvironmentVariable("LABMANAGER_TEST_AZURITE")
            ?? throw new InvalidOperationException("LABMANAGER_TEST_AZURITE is not set: run the tests with ./scripts/test.sh, which starts Azurite");
        var options = new ChaosOptions { Labs = 8, Kills = 2, Storm = TimeSpan.FromSeconds(30) };

        var result = await new ChaosRun(options, storage, log: output.WriteLine).RunAsync();

        output.WriteLine(result.Summary());
        Assert.True(result.Problems.Count == 0, string.Join("\n", result.Problems.Prepend(result.Summary())));
        Assert.Equal(0, result.VmsLeaked);
        Assert.Equal(0, result.InstancesInconsistent);
        // A lab stopped before its VM was asked for has none; no lab may have had two (checked per label in Problems).
        Assert.InRange(result.VmsCreated, 1, options.Labs);
        Assert.True(result.FaultsInjected.Where(f => f.Key != "latency_ms").Sum(f => f.Value) > 0, "no fault was injected");
    }
}

/// <summary>The tests that run the Server and the emulator as processes take turns, so two of them never share the 2 cores.</summary>
[CollectionDefinition(Collection)]
public sealed class ServerProcessTests
{
    public const string Collection = "server processes";
}
