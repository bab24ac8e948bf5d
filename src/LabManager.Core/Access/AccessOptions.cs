using System.Net;

namespace LabManager.Core.Access;

/// <summary>How learners reach their labs, and who else may. Section <c>Access</c>.</summary>
public sealed class AccessOptions
{
    public const string Section = "Access";

    /// <summary><see cref="AccessMode.Gateway"/> (the Server proxies each lab) or <see cref="AccessMode.Direct"/> (the learner's address only).</summary>
    public AccessMode Mode { get; set; } = AccessMode.Gateway;

    /// <summary>The parent of every lab's host name: <c>&lt;instance id&gt;.lab.localhost</c> locally, <c>labs.example.org</c> with wildcard DNS.</summary>
    public string LabDomain { get; set; } = "lab.localhost";

    /// <summary>The scheme of lab URLs: <c>https</c> in production (wildcard certificate), <c>http</c> locally.</summary>
    public string LabScheme { get; set; } = "http";

    /// <summary>The port in lab URLs; null for the scheme's default.</summary>
    public int? LabPort { get; set; }

    /// <summary>
    /// The addresses LabManager itself reaches labs from (the gateway's egress, the readiness probes), as CIDRs: admitted on the lab's HTTP
    /// ports. Required in gateway mode.
    /// </summary>
    public List<string> GatewayCidrs { get; set; } = [];

    /// <summary>Proxies in front of LabManager whose <c>X-Forwarded-For</c> is believed, as CIDRs; from anyone else it is ignored.</summary>
    public List<string> TrustedProxies { get; set; } = [];

    /// <summary>Who may reach a lab VM's SSH (port 22), as CIDRs; empty: nobody.</summary>
    public List<string> AdminCidrs { get; set; } = [];

    /// <summary>How long an access link's ticket may wait to be used (once).</summary>
    public TimeSpan TicketLifetime { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the gateway writes each lab's last request to the database (what the idle check reads).</summary>
    public TimeSpan ActivityFlushInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Problems with these settings; empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (var (name, list) in new[] { ("GatewayCidrs", GatewayCidrs), ("TrustedProxies", TrustedProxies), ("AdminCidrs", AdminCidrs) })
        {
            errors.AddRange(list.Where(c => !IPNetwork.TryParse(c, out _)).Select(c => $"Access:{name}: '{c}' is not a CIDR such as 203.0.113.7/32"));
        }

        if (Mode == AccessMode.Gateway && GatewayCidrs.Count == 0)
        {
            errors.Add("Access:GatewayCidrs must name the gateway's egress addresses in gateway mode (e.g. 203.0.113.7/32), or labs are reachable by nobody");
        }

        if (LabScheme is not ("http" or "https"))
        {
            errors.Add($"Access:LabScheme must be http or https, not '{LabScheme}'");
        }

        return errors;
    }

    /// <summary>The lab's URL for one of its HTTP ports: the first (<paramref name="first"/>) at <c>&lt;id&gt;.domain</c>, others at <c>&lt;id&gt;-&lt;port&gt;.domain</c>.</summary>
    public string LabUrl(Guid instanceId, int port, bool first, string path = "/") =>
        $"{LabScheme}://{LabHost(instanceId, first ? null : port)}{(LabPort is { } p ? ":" + p.ToString(System.Globalization.CultureInfo.InvariantCulture) : "")}{path}";

    public string LabHost(Guid instanceId, int? port) => port is { } p ? $"{instanceId:D}-{p}.{LabDomain}" : $"{instanceId:D}.{LabDomain}";

    /// <summary>Reads a lab host name (without port): the instance and, for a lab's further HTTP ports, the port it names.</summary>
    public bool TryParseLabHost(string host, out Guid instanceId, out int? port)
    {
        (instanceId, port) = (Guid.Empty, null);
        var suffix = "." + LabDomain;
        if (!host.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) || host.Length - suffix.Length is var length && length < 36
            || !Guid.TryParseExact(host[..36], "D", out instanceId))
        {
            return false;
        }

        var rest = host[36..length];
        if (rest.Length == 0)
        {
            return true;
        }

        if (rest[0] == '-' && int.TryParse(rest[1..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536)
        {
            port = p;
            return true;
        }

        return false;
    }
}

public enum AccessMode
{
    /// <summary>Learners reach a lab's web ports only through the Server's gateway; its other ports are opened to their address.</summary>
    Gateway,

    /// <summary>No gateway (e.g. the Functions app alone): every lab port is opened to the learner's address, and the URL is the VM's.</summary>
    Direct,
}
