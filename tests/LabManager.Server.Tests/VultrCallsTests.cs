using System.Net;
using LabManager.Core.Instances;
using Xunit.Abstractions;

namespace LabManager.Server.Tests;

/// <summary>A server whose only Vultr calls are the sessions' and the VM watch's (no reconciliation runs).</summary>
public sealed class VultrCallsFixture : ServerFixture
{
    protected override IEnumerable<string> Settings => [.. base.Settings, "Reconciliation:Interval=00:00:00", "Api:MaxStartsPerWindow=1000"];
}

/// <summary>What a lab costs in Vultr calls, counted by the emulator.</summary>
public sealed class VultrCallsTests(VultrCallsFixture server, ITestOutputHelper output) : IClassFixture<VultrCallsFixture>
{
    [Fact]
    public async Task LabsBootingTogether_MakeNoGetsOfTheirOwn_NorListsBeforeAFirstCreate_AtMostThreeVmCallsEach()
    {
        const int labs = 20;
        var before = (await server.Emulator.InspectAsync()).Requests;
        var learners = Enumerable.Range(0, labs).Select(_ => server.Token(Guid.NewGuid())).ToList();
        var ids = await Task.WhenAll(learners.Select(async token =>
        {
            var (status, body, _) = await server.StartAsync(ServerFixture.DvwaLab, token);
            Assert.Equal(HttpStatusCode.Created, status);
            var id = body["data"]!["id"]!.GetValue<string>();
            await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);
            return id;
        }));
        foreach (var (id, token) in ids.Zip(learners))
        {
            await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/stop", token);
        }

        await server.AssertNoVmLeftAsync(ids);
        var after = (await server.Emulator.InspectAsync()).Requests;
        int Delta(string kind) => after.GetValueOrDefault(kind) - before.GetValueOrDefault(kind);
        var lists = Delta("list");
        output.WriteLine($"{labs} labs: {Delta("create")} creates, {Delta("delete")} deletes, {lists} lists, {Delta("get")} gets; " +
            $"firewall: {Delta("post firewalls")} creates (groups and rules), {Delta("delete firewalls")} deletes, {Delta("get firewalls")} lists");

        // The watch saw every VM come up: no session looked at its own.
        Assert.Equal(0, Delta("get"));
        Assert.Equal(labs, Delta("create"));
        Assert.Equal(labs, Delta("delete"));
        Assert.InRange(lists, 1, labs);
        Assert.InRange((Delta("create") + Delta("delete") + lists) / (double)labs, 2, 3);
        // A first create of a group (and of its rules) is sent without listing what exists.
        Assert.Equal(0, Delta("get firewalls"));
        Assert.Equal(labs, Delta("delete firewalls"));
    }
}
