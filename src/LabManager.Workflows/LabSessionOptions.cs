using LabManager.Workflows.Sessions;

namespace LabManager.Workflows;

/// <summary>Settings of section <c>LabSessions</c>.</summary>
public sealed class LabSessionOptions
{
    public const string Section = "LabSessions";

    /// <summary>Tag put on every VM LabManager creates; reconciliation only ever touches VMs with it.</summary>
    public string VmTag { get; set; } = "labmanager";

    /// <summary>
    /// URL cloud-init POSTs to when the lab is up, e.g. <c>https://host/api/labs/instances/{instanceId}/ready?key={key}</c>;
    /// <c>{instanceId}</c> and <c>{key}</c> (see <see cref="Core.Instances.PhoneHome"/>) are filled in. When not set, an app on
    /// Azure App Service / Functions uses its own host (<c>WEBSITE_HOSTNAME</c>); elsewhere labs are found by probing only.
    /// </summary>
    public string? PhoneHomeUrl { get; set; }

    /// <summary>
    /// Secret of the phone-home keys, a secret of its own: a VM holds the key derived from it (in its user_data, which the VM can read),
    /// so it must never be the JWT signing key. Without it labs do not phone home and are found by probing only. Each instance's own flags
    /// are derived from it too (<see cref="Core.Labs.Flags.Dynamic"/>, under a label of their own): a lab that declares one needs it.
    /// </summary>
    public string? PhoneHomeKey { get; set; }

    /// <summary>
    /// URL the lab's agent POSTs its heartbeats to, a template like <see cref="PhoneHomeUrl"/>; when not set, the phone-home URL with
    /// <c>/ready</c> as <c>/heartbeat</c>. Without either (or without <see cref="PhoneHomeKey"/>), no agent is installed.
    /// </summary>
    public string? HeartbeatUrl { get; set; }

    /// <summary>How long a running lab may go without a request through the gateway or the page's keep-alive before it is stopped (a lab's own <c>idleTimeoutMinutes</c> wins); zero: never.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Longest a session may run, extensions included.</summary>
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromHours(4);

    /// <summary>
    /// How often the shared VM watch lists our VMs while any lab boots (one Vultr call per page of 500): how late a usable VM is noticed.
    /// </summary>
    public TimeSpan VmWatchInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Poll intervals and deadlines of every session.</summary>
    public SessionTimings Timings { get; set; } = new();

    /// <summary>How old a tagged VM without a live instance must be before reconciliation destroys it.</summary>
    public TimeSpan OrphanGracePeriod { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Timeout of one readiness probe.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
