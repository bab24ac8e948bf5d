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

    /// <summary>POST to the phone-home URL found in user_data once the lab app answers (loopback URLs only).</summary>
    public bool PhoneHome { get; set; } = true;

    public FaultSettings Faults { get; set; } = new();
}

/// <summary>Faults injected into <c>/v2</c> calls. Changeable at run time through <c>PUT /admin/faults</c>.</summary>
public sealed record FaultSettings
{
    /// <summary>Fraction (0..1) of calls answered 500.</summary>
    public double ErrorRate { get; init; }

    /// <summary>Calls per second above which the emulator answers 429; 0 = no limit. Vultr's is 30.</summary>
    public int RateLimitPerSecond { get; init; } = 30;

    /// <summary>Milliseconds added to every call.</summary>
    public int LatencyMs { get; init; }

    /// <summary>Fraction (0..1) of creates whose VM is made but whose answer is lost (the connection is dropped).</summary>
    public double LoseCreateAnswerRate { get; init; }

    /// <summary>Fraction (0..1) of new VMs that never leave installingbooting.</summary>
    public double StuckRate { get; init; }
}
