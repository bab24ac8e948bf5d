namespace LabManager.VultrEmulator;

/// <summary>The emulator's admin routes from outside: <c>GET /admin/inspect</c> and <c>PUT /admin/faults</c>.</summary>
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

    public void Dispose() => _http.Dispose();
}
