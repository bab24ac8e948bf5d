namespace LabManager.VultrEmulator;

/// <summary>
/// The emulated lifecycle, as seen on a real VM: pending (no IP; the create answer shows pending/running/none) → active but
/// stopped/locked → running/installingbooting → running/ok; then cloud-init brings the lab up. A reboot keeps showing ok (and
/// the previous boot's lab) for a moment before the VM goes down and boots again.
/// </summary>
internal static class Lifecycle
{
    public static VmState StateOf(Vm vm, DateTimeOffset now, EmulatorOptions o)
    {
        var t = (now - vm.LifecycleAt).TotalSeconds;
        var boot = vm.BootsBefore + 1;
        switch (vm.Lifecycle)
        {
            case LifecycleEvent.Halted:
                return new VmState("active", "stopped", "ok", true, false, vm.BootsBefore);
            case LifecycleEvent.Rebooted when t < o.RebootOkSeconds:
                return new VmState("active", "running", "ok", true, vm.UpBeforeReboot, vm.BootsBefore);
            case LifecycleEvent.Rebooted or LifecycleEvent.Started:
                t -= vm.Lifecycle == LifecycleEvent.Rebooted ? o.RebootOkSeconds : 0;
                return t < o.RebootSeconds
                    ? new VmState("active", "running", "installingbooting", true, false, boot)
                    : Booted(vm, t - o.RebootSeconds, o, boot);
            case LifecycleEvent.Reinstalled:
                return FromBoot(vm, t, o, boot);
            default:
                return t < o.PendingSeconds
                    ? new VmState("pending", "running", "none", false, false, 0)
                    : FromBoot(vm, t - o.PendingSeconds, o, boot);
        }
    }

    private static VmState FromBoot(Vm vm, double t, EmulatorOptions o, int boot)
    {
        if (vm.Locked || t < o.BootSeconds)
        {
            return new VmState("active", "stopped", "locked", true, false, boot);
        }

        t -= o.BootSeconds;
        if (vm.Stuck || t < o.InstallSeconds)
        {
            return new VmState("active", "running", "installingbooting", true, false, boot);
        }

        return Booted(vm, t - o.InstallSeconds, o, boot);
    }

    private static VmState Booted(Vm vm, double sinceOk, EmulatorOptions o, int boot) =>
        vm.Stuck
            ? new VmState("active", "running", "installingbooting", true, false, boot)
            : new VmState("active", "running", "ok", true, sinceOk >= o.CloudInitSeconds, boot);
}
