namespace LabManager.VultrEmulator;

/// <summary>One emulated VM. Its visible state is a function of the clock since its last lifecycle event.</summary>
internal sealed class Vm
{
    public required string Id { get; init; }
    public required string Label { get; set; }

    /// <summary>When the lab app first answered on every published port (after boot and cloud-init).</summary>
    public DateTimeOffset? LabUpAt { get; set; }
    public required string Hostname { get; set; }
    public required string Region { get; init; }
    public required string Plan { get; init; }
    public required int OsId { get; init; }
    public required List<string> Tags { get; init; }
    public required string UserData { get; init; }
    public required DateTimeOffset DateCreated { get; init; }
    public required string MainIp { get; init; }
    public required string DefaultPassword { get; init; }
    public string FirewallGroupId { get; set; } = "";
    public bool Stuck { get; init; }

    /// <summary>Host ports the lab app answers on once up (from the user_data's published ports).</summary>
    public required IReadOnlyList<int> LabPorts { get; init; }

    /// <summary>The phone-home URL found in user_data, if any.</summary>
    public string? PhoneHomeUrl { get; init; }

    public LifecycleEvent Lifecycle { get; set; } = LifecycleEvent.Created;
    public DateTimeOffset LifecycleAt { get; set; }
    public bool PhonedHome { get; set; }
}

internal enum LifecycleEvent
{
    Created,
    Rebooted,
    Reinstalled,
    Halted,
}

/// <summary>The state a client sees, and whether the lab app should answer.</summary>
internal sealed record VmState(string Status, string PowerStatus, string ServerStatus, bool IpAssigned, bool LabUp);
