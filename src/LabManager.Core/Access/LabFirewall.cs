using System.Net;
using System.Net.Sockets;
using LabManager.Core.Labs;

namespace LabManager.Core.Access;

/// <summary>One inbound rule: TCP or UDP to <see cref="Port"/> from <see cref="Subnet"/>/<see cref="SubnetSize"/>.</summary>
public sealed record FirewallRule(string Protocol, int Port, string Subnet, int SubnetSize)
{
    public bool IsV6 => IPAddress.Parse(Subnet).AddressFamily == AddressFamily.InterNetworkV6;

    public override string ToString() => $"{Protocol}/{Port} from {Subnet}/{SubnetSize}";
}

/// <summary>
/// The firewall group of one lab instance: what it is called (so it is found again after a lost answer, and known for ours) and what it
/// admits. Nothing else reaches the VM: Vultr drops whatever no rule accepts.
/// </summary>
public static class LabFirewall
{
    private const int SshPort = 22;

    /// <summary>The group's description: the deployment's tag and the instance, e.g. <c>labmanager lab-&lt;id&gt;</c>.</summary>
    public static string Description(string tag, Guid instanceId) => $"{tag} lab-{instanceId:D}";

    /// <summary>True for a description <see cref="Description"/> wrote for this tag: the only groups reconciliation may delete.</summary>
    public static bool TryParse(string description, string tag, out Guid instanceId)
    {
        instanceId = Guid.Empty;
        var prefix = tag + " lab-";
        return description.StartsWith(prefix, StringComparison.Ordinal) && description.Length == prefix.Length + 36
            && Guid.TryParseExact(description[prefix.Length..], "D", out instanceId);
    }

    /// <summary>
    /// What the group admits. Gateway mode: the lab's HTTP ports from the gateway, its other ports from the learner. Direct mode: every lab
    /// port from the learner (and the HTTP ports from LabManager's own addresses, for the probes). SSH only from the admins. Without a learner
    /// address yet, nothing is opened to a learner.
    /// </summary>
    public static IReadOnlyList<FirewallRule> Rules(ContainerConfig container, AccessOptions access, string? learnerIp)
    {
        var web = container.WebPorts();
        var rules = new List<FirewallRule>();
        IPNetwork? learner = learnerIp is not null && IPAddress.TryParse(learnerIp, out var ip) ? Host(ip) : null;
        foreach (var port in container.Containers.SelectMany(c => c.Ports).DistinctBy(p => (p.HostPort, p.Protocol)))
        {
            var isWeb = IsWeb(port, web);
            if (isWeb)
            {
                rules.AddRange(access.GatewayCidrs.Select(c => Rule(port.Protocol, port.HostPort, IPNetwork.Parse(c))));
            }

            if (learner is { } l && (!isWeb || access.Mode == AccessMode.Direct))
            {
                rules.Add(Rule(port.Protocol, port.HostPort, l));
            }
        }

        rules.AddRange(access.AdminCidrs.Select(c => Rule("tcp", SshPort, IPNetwork.Parse(c))));
        return [.. rules.Distinct()];
    }

    /// <summary>
    /// Whether the learner reaches some port of the lab directly, not through the gateway (which counts the activity it carries): any port
    /// in direct mode, else a port that is not one of its web ports.
    /// </summary>
    public static bool BypassesGateway(ContainerConfig? container, AccessOptions access)
    {
        var web = container?.WebPorts() ?? [];
        return access.Mode == AccessMode.Direct || (container?.Containers.SelectMany(c => c.Ports).Any(p => !IsWeb(p, web)) ?? false);
    }

    private static bool IsWeb(PortMapping port, IReadOnlyList<int> webPorts) => port.Protocol == "tcp" && webPorts.Contains(port.HostPort);

    private static IPNetwork Host(IPAddress ip)
    {
        ip = ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;
        return new IPNetwork(ip, ip.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
    }

    private static FirewallRule Rule(string protocol, int port, IPNetwork network) =>
        new(protocol, port, network.BaseAddress.ToString(), network.PrefixLength);
}
