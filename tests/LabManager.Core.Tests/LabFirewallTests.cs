using LabManager.Core.Access;
using LabManager.Core.Labs;

namespace LabManager.Core.Tests;

public sealed class LabFirewallTests
{
    private static readonly Guid Instance = Guid.Parse("0b5f1c8e-6f43-4b1a-9d55-2f1e3c4d5a6b");

    private static ContainerConfig Lab(string scheme, params PortMapping[] ports) =>
        new() { Containers = [new ContainerSpec { Name = "lab", Image = "lab:1", Ports = ports }], AccessScheme = scheme };

    private static AccessOptions Gateway(params string[] admins) => new() { GatewayCidrs = ["203.0.113.7/32"], AdminCidrs = [.. admins] };

    [Fact]
    public void GatewayMode_WebPortsOnlyFromTheGateway_OtherPortsOnlyFromTheLearner_SshClosed()
    {
        var web = Lab("http", new PortMapping(80, 80), new PortMapping(2222, 22), new PortMapping(53, 53, "udp"));

        var rules = LabFirewall.Rules(web, Gateway(), "198.51.100.9");

        Assert.Equal(
        [
            new FirewallRule("tcp", 80, "203.0.113.7", 32),
            new FirewallRule("tcp", 2222, "198.51.100.9", 32),
            new FirewallRule("udp", 53, "198.51.100.9", 32),
        ], rules);
        Assert.DoesNotContain(rules, r => r.Port == 22);
    }

    [Fact]
    public void TheGatewayCarriesAllOfAWebOnlyLab_InGatewayModeOnly()
    {
        var webOnly = Lab("http", new PortMapping(80, 80));
        Assert.False(LabFirewall.BypassesGateway(webOnly, Gateway()));
        Assert.True(LabFirewall.BypassesGateway(webOnly, new AccessOptions { Mode = AccessMode.Direct }));
        Assert.True(LabFirewall.BypassesGateway(Lab("http", new PortMapping(80, 80), new PortMapping(2222, 22)), Gateway()));
        Assert.True(LabFirewall.BypassesGateway(Lab("http", new PortMapping(80, 80, "udp")), Gateway()));
        Assert.False(LabFirewall.BypassesGateway(null, Gateway()));
    }

    [Fact]
    public void WithoutALearnerAddress_NothingIsOpenedToALearner_AndAdminsGetSsh()
    {
        var rules = LabFirewall.Rules(Lab("tcp", new PortMapping(2222, 22)), Gateway("192.0.2.0/24"), null);

        Assert.Equal([new FirewallRule("tcp", 22, "192.0.2.0", 24)], rules);
    }

    [Fact]
    public void DirectMode_EveryPortFromTheLearnerOnly_Ipv6AsA128()
    {
        var access = new AccessOptions { Mode = AccessMode.Direct };

        var rules = LabFirewall.Rules(Lab("http", new PortMapping(80, 80), new PortMapping(2222, 22)), access, "2001:db8::5");

        Assert.Equal([new FirewallRule("tcp", 80, "2001:db8::5", 128), new FirewallRule("tcp", 2222, "2001:db8::5", 128)], rules);
        Assert.All(rules, r => Assert.True(r.IsV6));
    }

    [Fact]
    public void Description_IsOursOnlyForOurTagAndForm()
    {
        var description = LabFirewall.Description("labmanager", Instance);

        Assert.True(LabFirewall.TryParse(description, "labmanager", out var id));
        Assert.Equal(Instance, id);
        Assert.False(LabFirewall.TryParse(description, "other", out _));
        Assert.False(LabFirewall.TryParse(description + "x", "labmanager", out _));
        Assert.False(LabFirewall.TryParse("labmanager lab-web-servers", "labmanager", out _));
    }

    [Theory]
    [InlineData("0b5f1c8e-6f43-4b1a-9d55-2f1e3c4d5a6b.lab.localhost", null)]
    [InlineData("0B5F1C8E-6F43-4B1A-9D55-2F1E3C4D5A6B.LAB.LOCALHOST", null)]
    [InlineData("0b5f1c8e-6f43-4b1a-9d55-2f1e3c4d5a6b-3000.lab.localhost", 3000)]
    public void LabHosts_NameTheInstanceAndPort(string host, int? port)
    {
        Assert.True(new AccessOptions().TryParseLabHost(host, out var id, out var named));
        Assert.Equal(Instance, id);
        Assert.Equal(port, named);
    }

    [Theory]
    [InlineData("lab.localhost")]
    [InlineData("x.0b5f1c8e-6f43-4b1a-9d55-2f1e3c4d5a6b.lab.localhost")]
    [InlineData("0b5f1c8e-6f43-4b1a-9d55-2f1e3c4d5a6b-0.lab.localhost")]
    [InlineData("0b5f1c8e-6f43-4b1a-9d55-2f1e3c4d5a6b.lab.localhost.evil.example")]
    [InlineData("127.0.0.1")]
    public void OtherHosts_AreNotLabs(string host) => Assert.False(new AccessOptions().TryParseLabHost(host, out _, out _));

    [Fact]
    public void GatewayMode_WithoutGatewayAddresses_IsRefused()
    {
        Assert.Contains(new AccessOptions().Validate(), e => e.Contains("Access:GatewayCidrs", StringComparison.Ordinal));
        Assert.Contains(new AccessOptions { GatewayCidrs = ["not-a-cidr"] }.Validate(), e => e.Contains("'not-a-cidr'", StringComparison.Ordinal));
        Assert.Empty(new AccessOptions { Mode = AccessMode.Direct }.Validate());
    }
}
