namespace LabManager.VultrEmulator;

/// <summary>How the emulator behaves. Bound from the <c>Emulator</c> configuration section.</summary>
public sealed class EmulatorOptions
{
    /// <summary>The Bearer token clients must send.</summary>
    public string ApiKey { get; set; } = "local-emulator-key";

    /// <summary>Seconds a new VM stays <c>pending</c> with main_ip 0.0.0.0.</summary>
    public double PendingSeconds { get; set; } = 2;

    /// <summary>Seconds it then stays active but stopped/locked.</summary>
    public double BootSeconds { get; set; } = 2;

    /// <summary>Seconds it then stays running/installingbooting before ok.</summary>
    public double InstallSeconds { get; set; } = 2;

    /// <summary>Seconds after ok (or after a reboot) until the lab app answers: cloud-init and the containers.</summary>
    public double CloudInitSeconds { get; set; } = 1;

    /// <summary>Seconds a reboot or start keeps the VM in installingbooting.</summary>
    public double RebootSeconds { get; set; } = 1;

    /// <summary>
    /// Seconds a VM still shows <c>ok</c>, with the previous boot's lab answering, after a reboot's 204 (a real VM takes a moment to
    /// go down): an <c>ok</c> right after a reboot proves nothing.
    /// </summary>
    public double RebootOkSeconds { get; set; } = 1;

    /// <summary>Seconds a deleted VM stays listed (and readable) while Vultr destroys it.</summary>
    public double DeletedVisibleSeconds { get; set; }

    /// <summary>Vultr refuses to delete (or reinstall) a VM while its server_status is <c>locked</c>, with a 500.</summary>
    public bool RefuseWhileLocked { get; set; } = true;

    /// <summary>The account's UTC offset that <c>date_created</c> carries, as Vultr shows it (e.g. <c>-05:00</c>).</summary>
    public string AccountOffset { get; set; } = "-05:00";

    /// <summary>POST to the phone-home URL found in user_data once the lab app answers (loopback URLs only).</summary>
    public bool PhoneHome { get; set; } = true;

    /// <summary>Run the agent a VM's user_data installs: heartbeats to its URL (loopback only) at its interval.</summary>
    public bool Agent { get; set; } = true;

    public FaultSettings Faults { get; set; } = new();

    /// <summary>
    /// The boot timings as a whole: <c>fast</c> (the defaults above, seconds in all, for tests) or <c>vultr</c> (as a real Vultr VM:
    /// about a minute from the create to <c>ok</c>, locked for the first half-minute, then a minute of cloud-init installing Docker and
    /// pulling the lab). Settings named beside it win over the profile's.
    /// </summary>
    public string Profile { get; set; } = "fast";

    /// <summary>Sets the boot timings of <paramref name="profile"/>; refuses a profile it does not know.</summary>
    public void ApplyProfile(string? profile)
    {
        switch (profile ?? "fast")
        {
            case "fast":
                break;
            case "vultr":
                (PendingSeconds, BootSeconds, InstallSeconds, CloudInitSeconds) = (10, 30, 20, 60);
                (RebootSeconds, RebootOkSeconds, DeletedVisibleSeconds) = (30, 5, 5);
                break;
            default:
                throw new InvalidOperationException($"Emulator:Profile must be fast or vultr, not '{profile}'");
        }
    }
}

/// <summary>Faults injected into <c>/v2</c> calls. Changeable at run time through <c>PUT /admin/faults</c>.</summary>
public sealed record FaultSettings
{
    /// <summary>Fraction (0..1) of calls answered 500.</summary>
    public double ErrorRate { get; init; }

    /// <summary>
    /// Seed of the random draws that pick which calls and VMs the rates strike; unset, every run differs. A seeded run strikes the same
    /// draws again: the same calls when they come in the same order.
    /// </summary>
    public int? Seed { get; init; }

    /// <summary>Calls per second above which the emulator answers 429; 0 = no limit. Vultr's is 30.</summary>
    public int RateLimitPerSecond { get; init; } = 30;

    /// <summary>Milliseconds added to every call.</summary>
    public int LatencyMs { get; init; }

    /// <summary>Fraction (0..1) of creates whose VM is made but whose answer is lost (the connection is dropped).</summary>
    public double LoseCreateAnswerRate { get; init; }

    /// <summary>Fraction (0..1) of new VMs that never leave installingbooting.</summary>
    public double StuckRate { get; init; }

    /// <summary>Fraction (0..1) of new VMs that stay locked for good (Vultr then refuses to delete them).</summary>
    public double LockedRate { get; init; }

    /// <summary>
    /// How <c>GET /instances</c> applies its <c>tag</c> and <c>label</c> filters: <c>exact</c> (default), <c>contains</c> (a label or tag
    /// that merely contains the text matches), or <c>ignore</c> (every VM of the account is answered, whatever the filters say).
    /// Vultr documents neither filter's matching, and the tag filter is deprecated.
    /// </summary>
    public string Filters { get; init; } = "exact";

    /// <summary>
    /// The API key's IP access control: comma-separated caller addresses allowed; empty = every address. Any other caller gets
    /// <c>401 Unauthorized IP address: x.x.x.x</c>.
    /// </summary>
    public string AllowedIps { get; init; } = "";
}
