namespace LabManager.VultrEmulator;

/// <summary>The emulator's admin routes from outside: inspection, faults, removing a VM, crashing a VM's lab.</summary>
public sealed class EmulatorAdminClient(Uri root) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = root };

    /// <summary>Live VMs and counters.</summary>
    public async Task<Inspection> InspectAsync(CancellationToken cancellationToken = default) =>
        (await _http.GetFromJsonAsync<Inspection>("admin/inspect", Json.Options, cancellationToken))!;

    /// <summary>Replaces the injected faults.</summary>
    public async Task SetFaultsAsync(FaultSettings faults, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PutAsJsonAsync("admin/faults", faults, Json.Options, cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Removes a VM whatever its state (a locked one included).</summary>
    public async Task RemoveAsync(string vmId, CancellationToken cancellationToken = default)
    {
        using var response = await _http.DeleteAsync($"admin/vms/{vmId}", cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Makes the lab inside a VM stop answering, as if its containers died; a reboot brings it back.</summary>
    public async Task CrashLabAsync(string vmId, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsync($"admin/vms/{vmId}/crash-lab", null, cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Makes one of the VM's containers exit; with <paramref name="keepsFailing"/>, every start of it fails too.</summary>
    public async Task ExitContainerAsync(string vmId, string name, bool keepsFailing = false, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsync($"admin/vms/{vmId}/containers/{Uri.EscapeDataString(name)}/exit?keepsFailing={(keepsFailing ? "true" : "false")}", null, cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Silences the VM's agent, or lets it speak again.</summary>
    public async Task SilenceAgentAsync(string vmId, bool silent = true, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsync($"admin/vms/{vmId}/agent?silent={(silent ? "true" : "false")}", null, cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    public void Dispose() => _http.Dispose();
}
