namespace LabManager.VultrEmulator;

/// <summary>
/// Emulator-only routes, outside <c>/v2</c> and without auth (the emulator listens on loopback):
/// <c>GET|PUT /admin/faults</c>, <c>GET /admin/inspect</c> and <c>DELETE /admin/vms/{id}</c>.
/// </summary>
internal static class AdminApi
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/admin/faults", (Cloud cloud) => Json.Ok(cloud.Faults));
        app.MapPut("/admin/faults", (FaultSettings faults, Cloud cloud) =>
        {
            if (faults.ErrorRate is < 0 or > 1 || faults.LoseCreateAnswerRate is < 0 or > 1 || faults.StuckRate is < 0 or > 1 || faults.LockedRate is < 0 or > 1
                || faults.RateLimitPerSecond < 0 || faults.LatencyMs is < 0 or > 60_000 || faults.Filters is not ("exact" or "contains" or "ignore"))
            {
                return Json.Error(400, "Rates are fractions 0..1; rateLimitPerSecond >= 0; latencyMs 0..60000; filters exact, contains or ignore.");
            }

            cloud.Faults = faults;
            return Json.Ok(faults);
        });
        // As Vultr's support would: the VM is gone, whatever its state (a VM stuck locked cannot be deleted through the API).
        app.MapDelete("/admin/vms/{id}", (string id, Cloud cloud, LabApps apps) =>
        {
            if (!cloud.Remove(id))
            {
                return Json.Error(404, "Not found");
            }

            apps.Stop(id);
            return Results.NoContent();
        });
        // The lab inside the VM stops answering (its containers died); the VM itself stays up, until it boots again.
        app.MapPost("/admin/vms/{id}/crash-lab", (string id, Cloud cloud, LabApps apps) =>
        {
            if (cloud.Live().FirstOrDefault(vm => vm.Id == id) is not { } vm)
            {
                return Json.Error(404, "Not found");
            }

            foreach (var c in vm.Containers)
            {
                c.Exit(137, keepsFailing: true);
            }

            apps.Stop(id);
            return Results.NoContent();
        });
        // One container exits (code 1): the agent starts it again once; with keepsFailing it exits again at once.
        app.MapPost("/admin/vms/{id}/containers/{name}/exit", (string id, string name, bool? keepsFailing, Cloud cloud, LabApps apps) =>
        {
            if (cloud.Live().FirstOrDefault(vm => vm.Id == id) is not { } vm || vm.Containers.FirstOrDefault(c => c.Name == name) is not { } container)
            {
                return Json.Error(404, "Not found");
            }

            container.Exit(1, keepsFailing ?? false);
            apps.Stop(id);
            return Results.NoContent();
        });
        // The agent goes silent (a learner killed it, the VM hangs) or speaks again.
        app.MapPost("/admin/vms/{id}/agent", (string id, bool silent, Cloud cloud) =>
        {
            if (cloud.Live().FirstOrDefault(vm => vm.Id == id) is not { } vm)
            {
                return Json.Error(404, "Not found");
            }

            vm.AgentSilent = silent;
            return Results.NoContent();
        });
        app.MapGet("/admin/inspect", (Cloud cloud, LabApps apps) =>
        {
            var vms = cloud.Live().Select(vm =>
            {
                var s = cloud.StateOf(vm);
                return new InspectedVm(vm.Id, vm.Label, vm.Tags, s.Status, s.PowerStatus, s.ServerStatus, s.IpAssigned ? vm.MainIp : "0.0.0.0",
                    apps.IsServing(vm.Id), vm.DateCreated, vm.LabUpAt, s.Boot, vm.Stuck);
            }).ToList();
            var deleted = cloud.Deleted.ToList();
            var deletes = deleted.GroupBy(d => d.Label).ToDictionary(g => g.Key, g => g.Count());
            return Json.Ok(new Inspection(vms, new(cloud.Creates), deletes, deleted, new(cloud.Requests), cloud.Rate.Peak));
        });
    }
}

/// <summary>What <c>GET /admin/inspect</c> answers.</summary>
public sealed record Inspection(
    IReadOnlyList<InspectedVm> Vms,
    Dictionary<string, int> Creates,
    Dictionary<string, int> Deletes,
    IReadOnlyList<DeletedVm> Deleted,
    Dictionary<string, int> Requests,
    int PeakRequestsPerSecond);

public sealed record InspectedVm(
    string Id,
    string Label,
    IReadOnlyList<string> Tags,
    string Status,
    string PowerStatus,
    string ServerStatus,
    string MainIp,
    bool LabUp,
    DateTimeOffset DateCreated,
    DateTimeOffset? LabUpAt,
    int Boot,
    bool Stuck);
