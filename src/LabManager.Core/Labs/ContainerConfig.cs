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

    /// <summary>Problems that make this config unusable, each "field path: what is wrong"; empty when it is valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Containers.Count == 0)
        {
            errors.Add("containers: at least one container is required");
        }

        if (AccessScheme is not ("http" or "https" or "tcp"))
        {
            errors.Add($"accessScheme: must be http, https or tcp, not '{AccessScheme}'");
        }

        for (var i = 0; i < Containers.Count; i++)
        {
            errors.AddRange(Containers[i].Validate().Select(e => $"containers[{i}].{e}"));
            if (Containers.Take(i).Any(c => c.Name == Containers[i].Name))
            {
                errors.Add($"containers[{i}].name: '{Containers[i].Name}' is used twice");
            }

            var earlier = Containers.Take(i).SelectMany(c => c.Ports).Select(p => (p.HostPort, p.Protocol)).ToList();
            for (var j = 0; j < Containers[i].Ports.Count; j++)
            {
                var p = Containers[i].Ports[j];
                if (earlier.Contains((p.HostPort, p.Protocol)))
                {
                    errors.Add($"containers[{i}].ports[{j}].hostPort: {p.HostPort}/{p.Protocol} is published twice");
                }

                earlier.Add((p.HostPort, p.Protocol));
            }
        }

        var tcp = Containers.SelectMany(c => c.Ports).Where(p => p.Protocol == "tcp").Select(p => p.HostPort).ToHashSet();
        errors.AddRange((HttpPorts ?? []).Select((p, i) => (p, i)).Where(x => !tcp.Contains(x.p)).Select(x => $"httpPorts[{x.i}]: {x.p} is not a published TCP port"));
        if (AccessPort is { } access && !tcp.Contains(access))
        {
            errors.Add($"accessPort: {access} is not a published TCP port");
        }

        return errors;
    }

    /// <summary>A name a lab's own variables may have (a dynamic flag's): upper case, digits and underscores.</summary>
    public static bool IsEnvironmentName(string name) => ContainerSpec.UpperNamePattern().IsMatch(name);
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

    /// <summary>
    /// The capabilities a lab may add back: Docker's default set. Anything beyond (SYS_ADMIN, NET_ADMIN, SYS_PTRACE …) would let a
    /// learner's container reach the VM itself.
    /// </summary>
    public static readonly IReadOnlyList<string> AllowedCapabilities =
    [
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP",
        "SETUID", "SYS_CHROOT",
    ];

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Z_][A-Z0-9_]{0,63}$")]
    internal static partial Regex UpperNamePattern();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    private static partial Regex EnvironmentPattern();

    /// <summary>Problems of this container, each "field: what is wrong", the field relative to the container.</summary>
    public IEnumerable<string> Validate()
    {
        if (!NamePattern().IsMatch(Name))
        {
            yield return $"name: '{Name}' must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 63 characters)";
        }

        if (string.IsNullOrWhiteSpace(Image))
        {
            yield return "image: is required";
        }

        if (MemoryMb is < 16 or > 65536)
        {
            yield return "memoryMb: must be 16..65536";
        }

        if (Cpus is <= 0 or > 64)
        {
            yield return "cpus: must be in (0, 64]";
        }

        if (PidsLimit is < 16 or > 32768)
        {
            yield return "pidsLimit: must be 16..32768";
        }

        for (var i = 0; i < Capabilities.Count; i++)
        {
            if (!AllowedCapabilities.Contains(Capabilities[i]))
            {
                yield return $"capabilities[{i}]: '{Capabilities[i]}' is not allowed; allowed: {string.Join(", ", AllowedCapabilities)}";
            }
        }

        for (var i = 0; i < Ports.Count; i++)
        {
            var p = Ports[i];
            if (p.HostPort is < 1 or > 65535)
            {
                yield return $"ports[{i}].hostPort: {p.HostPort} must be 1..65535";
            }

            if (p.ContainerPort is < 1 or > 65535)
            {
                yield return $"ports[{i}].containerPort: {p.ContainerPort} must be 1..65535";
            }

            if (p.Protocol is not ("tcp" or "udp"))
            {
                yield return $"ports[{i}].protocol: must be tcp or udp, not '{p.Protocol}'";
            }
        }
    }

    /// <summary>
    /// What the catalog refuses beyond <see cref="Validate"/> (which only keeps the rendered script sound: every value is quoted there):
    /// an image that is not a reference, a variable that is not a name.
    /// </summary>
    public IEnumerable<string> CatalogProblems()
    {
        if (!string.IsNullOrWhiteSpace(Image) && !ImageReference.IsValid(Image))
        {
            yield return $"image: '{Image}' is not an image reference ([registry/]name[:tag][@digest], the name in lower case)";
        }

        foreach (var key in Environment.Keys.Where(k => !EnvironmentPattern().IsMatch(k)))
        {
            yield return $"environment.{key}: is not a variable name ([A-Za-z_][A-Za-z0-9_]*)";
        }
    }
}

/// <summary>Docker's image reference grammar (distribution/reference): <c>[domain[:port]/]path[:tag][@algorithm:hex]</c>.</summary>
public static partial class ImageReference
{
    [GeneratedRegex(@"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$")]
    private static partial Regex Domain();

    [GeneratedRegex("^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")]
    private static partial Regex PathComponent();

    [GeneratedRegex(@"^[\w][\w.-]{0,127}$")]
    private static partial Regex Tag();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")]
    private static partial Regex Digest();

    public static bool IsValid(string reference)
    {
        var name = reference;
        if (name.IndexOf('@', StringComparison.Ordinal) is var at and >= 0)
        {
            if (!Digest().IsMatch(name[(at + 1)..]))
            {
                return false;
            }

            name = name[..at];
        }

        if (name.LastIndexOf(':') is var colon and >= 0 && colon > name.LastIndexOf('/'))
        {
            if (!Tag().IsMatch(name[(colon + 1)..]))
            {
                return false;
            }

            name = name[..colon];
        }

        var parts = name.Split('/');
        var first = parts[0];
        // As Docker reads it: the first part is a registry when it has a dot or a port, is localhost, or has upper case.
        var hasDomain = parts.Length > 1 && (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost"
            || first.Any(char.IsUpper));
        return name.Length is > 0 and <= 255 && (!hasDomain || Domain().IsMatch(first)) && parts.Skip(hasDomain ? 1 : 0).All(PathComponent().IsMatch);
    }
}

/// <summary>A published port: <c>HostPort</c> on the VM forwards to <c>ContainerPort</c>.</summary>
public sealed record PortMapping(int HostPort, int ContainerPort, string Protocol = "tcp");
