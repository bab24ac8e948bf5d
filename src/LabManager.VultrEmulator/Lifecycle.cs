namespace LabManager.VultrEmulator;

/// <summary>
/// The emulated lifecycle, as seen on a real VM: pending (no IP) → active but stopped/locked →
/// running/installingbooting → running/ok; then cloud-init brings the lab up.
/// </summary>
internal static class Lifecycle
{
    public static VmState StateOf(Vm vm, DateTimeOffset now, EmulatorOptions o)
    {
        var t = (now - vm.LifecycleAt).TotalSeconds;
        switch (vm.Lifecycle)
        {
            case LifecycleEvent.Halted:
                return new VmState("active", "stopped", "ok", true, false);
            case LifecycleEvent.Rebooted:
                return t < o.RebootSeconds
                    ? new VmState("active", "running", "installingbooting", true, false)
                    : Booted(vm, t - o.RebootSeconds, o);
            case LifecycleEvent.Reinstalled:
                return FromBoot(vm, t, o);
            default:
                return t < o.PendingSeconds
                    ? new VmState("pending", "stopped", "none", false, false)
                    : FromBoot(vm, t - o.PendingSeconds, o);
        }
    }

    private static VmState FromBoot(Vm vm, double t, EmulatorOptions o)
    {
        if (t < o.BootSeconds)
        {
            return new VmState("active", "stopped", "locked", true, false);
        }

        t -= o.BootSeconds;
        if (vm.Stuck || t < o.InstallSeconds)
        {
            return new VmState("active", "running", "installingbooting", true, false);
        }

        return Booted(vm, t - o.InstallSeconds, o);
    }

    private static VmState Booted(Vm vm, double sinceOk, EmulatorOptions o) =>
        vm.Stuck
            ? new VmState("active", "running", "installingbooting", true, false)
            : new VmState("active", "running", "ok", true, sinceOk >= o.CloudInitSeconds);
}
