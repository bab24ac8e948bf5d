using System.Text.RegularExpressions;

namespace LabManager.Core.Labs;

/// <summary>What runs inside a lab's VM: one or more containers on a private network.</summary>
public sealed record ContainerConfig
{
    public required IReadOnlyList<ContainerSpec> Containers { get; init; }

    /// <summary>The host port learners open; defaults to the first published TCP port.</summary>
    public int? AccessPort { get; init; }

    /// <summary><c>http</c>, <c>https</c> or <c>tcp</c> (no URL path, probed by connecting).</summary>
    public string AccessScheme { get; init; } = "http";

    public string AccessPath { get; init; } = "/";

    /// <summary>The host ports that serve HTTP (each gets a gateway host of its own); null: the access port, when its scheme is http or https.</summary>
    public IReadOnlyList<int>? HttpPorts { get; init; }

    /// <summary>The ports learners reach through the gateway, the access port first.</summary>
    public IReadOnlyList<int> WebPorts()
    {
        var access = AccessScheme is "http" or "https" && ResolveAccessPort() is { } p ? new[] { p } : [];
        return [.. access.Concat(HttpPorts ?? []).Distinct()];
    }

    /// <summary>The port learners use, or null when nothing is published.</summary>
    public int? ResolveAccessPort() =>
        AccessPort ?? Containers.SelectMany(c => c.Ports).Where(p => p.Protocol == "tcp").Select(p => (int?)p.HostPort).FirstOrDefault();

    /// <summary>Every host port the lab publishes, in order, each once.</summary>
    public IReadOnlyList<int> HostPorts() => [.. Containers.SelectMany(c => c.Ports).Select(p => p.HostPort).Distinct()];

    /// <summary>The learner-facing URL on a VM with the given public IP, or null when nothing is published.</summary>
    public string? BuildAccessUrl(string ip)
    {
        var port = ResolveAccessPort();
        if (port is null)
        {
            return null;
        }

        return AccessScheme == "tcp" ? $"tcp://{ip}:{port}" : $"{AccessScheme}://{ip}:{port}{AccessPath}";
    }

    /// <summary>Problems that make this config unusable; empty when it is valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Containers.Count == 0)
        {
            errors.Add("at least one container is required");
        }

        if (AccessScheme is not ("http" or "https" or "tcp"))
        {
            errors.Add($"accessScheme must be http, https or tcp, not '{AccessScheme}'");
        }

        foreach (var c in Containers)
        {
            errors.AddRange(c.Validate());
        }

        var tcp = Containers.SelectMany(c => c.Ports).Where(p => p.Protocol == "tcp").Select(p => p.HostPort).ToHashSet();
        errors.AddRange((HttpPorts ?? []).Where(p => !tcp.Contains(p)).Select(p => $"httpPorts: {p} is not a published TCP port"));

        var duplicates = Containers.GroupBy(c => c.Name).Where(g => g.Count() > 1).Select(g => g.Key);
        errors.AddRange(duplicates.Select(d => $"container name '{d}' is used twice"));
        var hostPorts = Containers.SelectMany(c => c.Ports).GroupBy(p => (p.HostPort, p.Protocol)).Where(g => g.Count() > 1);
        errors.AddRange(hostPorts.Select(g => $"host port {g.Key.HostPort}/{g.Key.Protocol} is published twice"));
        return errors;
    }

    /// <summary>A name a lab's own variables may have (a dynamic flag's): upper case, digits and underscores.</summary>
    public static bool IsEnvironmentName(string name) => ContainerSpec.CapabilityPattern().IsMatch(name);
}

/// <summary>One container of a lab, run hardened.</summary>
public sealed partial record ContainerSpec
{
    public required string Name { get; init; }
    public required string Image { get; init; }
    public IReadOnlyList<PortMapping> Ports { get; init; } = [];
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    public int MemoryMb { get; init; } = 512;
    public double Cpus { get; init; } = 1.0;
    public int PidsLimit { get; init; } = 256;
    public bool ReadOnlyRootFilesystem { get; init; }
    public string? User { get; init; }

    /// <summary>Capabilities added back after <c>--cap-drop ALL</c>, e.g. <c>CHOWN</c>.</summary>
    public IReadOnlyList<string> Capabilities { get; init; } = [];

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Z_][A-Z0-9_]{0,63}$")]
    internal static partial Regex CapabilityPattern();

    public IEnumerable<string> Validate()
    {
        if (!NamePattern().IsMatch(Name))
        {
            yield return $"container name '{Name}' must match [a-zA-Z0-9][a-zA-Z0-9_.-]*";
        }

        if (string.IsNullOrWhiteSpace(Image))
        {
            yield return $"container '{Name}' needs an image";
        }

        if (MemoryMb is < 16 or > 65536)
        {
            yield return $"container '{Name}': memoryMb must be 16..65536";
        }

        if (Cpus is <= 0 or > 64)
        {
            yield return $"container '{Name}': cpus must be in (0, 64]";
        }

        if (PidsLimit is < 16 or > 32768)
        {
            yield return $"container '{Name}': pidsLimit must be 16..32768";
        }

        foreach (var cap in Capabilities.Where(c => !CapabilityPattern().IsMatch(c)))
        {
            yield return $"container '{Name}': capability '{cap}' is not a capability name";
        }

        foreach (var p in Ports.Where(p => p.HostPort is < 1 or > 65535 || p.ContainerPort is < 1 or > 65535 || p.Protocol is not ("tcp" or "udp")))
        {
            yield return $"container '{Name}': port {p.HostPort}:{p.ContainerPort}/{p.Protocol} is invalid";
        }
    }
}

/// <summary>A published port: <c>HostPort</c> on the VM forwards to <c>ContainerPort</c>.</summary>
public sealed record PortMapping(int HostPort, int ContainerPort, string Protocol = "tcp");
