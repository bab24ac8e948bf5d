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
    public string ImageId { get; init; } = "";
    public int AppId { get; init; }
    public required List<string> Tags { get; init; }
    public required string UserData { get; init; }
    public required DateTimeOffset DateCreated { get; init; }
    public required string MainIp { get; init; }
    public required string DefaultPassword { get; init; }
    public string FirewallGroupId { get; set; } = "";
    public bool Stuck { get; init; }

    /// <summary>Never leaves server_status locked.</summary>
    public bool Locked { get; init; }

    /// <summary>Host ports the lab app answers on once up (from the user_data's published ports).</summary>
    public required IReadOnlyList<int> LabPorts { get; init; }

    /// <summary>The phone-home URL of the user_data script itself: it runs on the first boot only (cloud-init runs user_data once).</summary>
    public string? OnceUrl { get; init; }

    /// <summary>The phone-home URL of a per-boot script the user_data installs: POSTed with the boot number appended at every boot.</summary>
    public string? PerBootUrl { get; init; }

    public LifecycleEvent Lifecycle { get; set; } = LifecycleEvent.Created;
    public DateTimeOffset LifecycleAt { get; set; }

    /// <summary>Boots completed before the current lifecycle event (what the VM's boot counter said).</summary>
    public int BootsBefore { get; set; }

    /// <summary>Whether the lab answered just before a reboot: it keeps answering for <see cref="EmulatorOptions.RebootOkSeconds"/>.</summary>
    public bool UpBeforeReboot { get; set; }

    /// <summary>The last boot the per-boot phone-home reported.</summary>
    public int PhonedBoot { get; set; }

    /// <summary>Whether the user_data's own phone-home ran.</summary>
    public bool PhonedOnce { get; set; }

    /// <summary>The lab's containers (from the user_data's <c>docker run</c>s).</summary>
    public required List<EmulatedContainer> Containers { get; init; }

    /// <summary>A container is down (a crash, through <c>POST /admin/vms/{id}/crash-lab</c> or <c>…/containers/{name}/exit</c>): the lab does not answer.</summary>
    public bool LabCrashed => Containers.Any(c => c.State != "running");

    /// <summary>The agent the user_data installs: where it reports, and how often; null when none.</summary>
    public (string Url, double Seconds)? Agent { get; init; }

    /// <summary>The agent stopped reporting (<c>POST /admin/vms/{id}/agent</c>).</summary>
    public bool AgentSilent { get; set; }

    public DateTimeOffset LastHeartbeat { get; set; }

    /// <summary>Whether the last post failed: a Server that is down is logged once, not at every tick.</summary>
    public bool PostFailing { get; set; }

    /// <summary>Connections the lab app took, and the bytes they stand for (what <c>docker stats</c> shows as network I/O).</summary>
    public long Connections;

    public long NetIn;

    public long NetOut;
}

internal enum LifecycleEvent
{
    Created,
    Rebooted,

    /// <summary>Started after a halt: it boots at once (there is no running system to go down first).</summary>
    Started,
    Reinstalled,
    Halted,
}

/// <summary>The state a client sees, whether the lab app should answer, and which boot the VM is in (0 before its first).</summary>
internal sealed record VmState(string Status, string PowerStatus, string ServerStatus, bool IpAssigned, bool LabUp, int Boot);
