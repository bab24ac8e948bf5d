using System.Globalization;
using System.Text.Json.Nodes;
using LabManager.Api.Http;
using LabManager.Core.CloudInit;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Api.Labs;

/// <summary>
/// Area <c>admin</c>: the lab catalog, managed by operators. Every lab is checked by <see cref="LabValidator"/> (as the catalog file is
/// at start-up), against the cloud's plans and regions, and nothing is saved when any rule fails. Each change of a definition is a new
/// version; running instances keep theirs. With <c>Catalog:Mode=file</c> the file is the only source and changes here are refused.
/// </summary>
public sealed class CatalogApi(
    ILabCatalog catalog,
    ILabCatalogStore store,
    ICloudProvider cloud,
    PoolKeepers keepers,
    LabDefaults defaults,
    IOptions<CatalogOptions> catalogOptions,
    IOptions<ApiOptions> options,
    ILogger<CatalogApi> logger)
{
    /// <summary>The largest lab body the routes read.</summary>
    public const int MaxLabBytes = 256 * 1024;

    public async Task<ApiResult> ListAsync(ApiRequest request, CancellationToken ct) =>
        ApiResult.Ok((await store.ListAllAsync(ct)).Select(CatalogLabView.From).ToList());

    public async Task<ApiResult> GetAsync(ApiRequest request, CancellationToken ct) =>
        (await store.ListAllAsync(ct)).FirstOrDefault(e => e.Lab.Id == request.Id) is { } entry
            ? ApiResult.Ok(new CatalogLabDetail(CatalogLabView.From(entry), LabDocument.ToJson(entry.Lab)))
            : ApiResult.NotFound("Lab");

    /// <summary>The dry run: every rule checked and the VM's user_data rendered; nothing saved.</summary>
    public async Task<ApiResult> ValidateAsync(ApiRequest request, CancellationToken ct)
    {
        var (lab, problems, refused) = await CheckAsync(request, null, ct);
        if (refused is not null)
        {
            return refused;
        }

        // The phone-home and heartbeat URLs hold each instance's own key, and its flags are its own: placeholders here.
        var userData = lab is not null && problems.Count == 0
            ? CloudInitRenderer.Render(lab.ContainerConfig, environment: lab.Exercises.Where(e => e.Check?.DynamicFlag is not null)
                .ToDictionary(e => e.Check!.DynamicFlag!, e => $"<the instance's own flag for {e.Id}>"))
            : null;
        return ApiResult.Ok(new CatalogCheckView(userData is not null, problems, userData), userData is not null ? "The lab is valid" : $"The lab has {problems.Count} problems");
    }

    public async Task<ApiResult> CreateAsync(ApiRequest request, CancellationToken ct)
    {
        if (FileOnly() is { } refused)
        {
            return refused;
        }

        var (lab, problems, denied) = await CheckAsync(request, null, ct);
        if (denied is not null || problems.Count > 0)
        {
            return denied ?? Invalid(problems);
        }

        if (await catalog.GetAsync(lab!.Id, ct) is not null)
        {
            return ApiResult.Conflict($"A lab with id {lab.Id} exists; change it with PUT /api/admin/labs/{lab.Id}");
        }

        return await SaveAsync(request, lab, null, ct);
    }

    public async Task<ApiResult> UpdateAsync(ApiRequest request, CancellationToken ct)
    {
        if (FileOnly() is { } refused)
        {
            return refused;
        }

        if (await catalog.GetAsync(request.Id, ct) is null)
        {
            return ApiResult.NotFound("Lab");
        }

        var (lab, problems, denied) = await CheckAsync(request, request.Id, ct);
        return denied ?? (problems.Count > 0 ? Invalid(problems) : await SaveAsync(request, lab!, null, ct));
    }

    /// <summary>Deletes the lab, or deactivates it while instances of it are live (202: delete again once they ended).</summary>
    public async Task<ApiResult> DeleteAsync(ApiRequest request, CancellationToken ct)
    {
        if (FileOnly() is { } refused)
        {
            return refused;
        }

        var outcome = await store.DeleteAsync(request.Id, Author(request), ct);
        if (!outcome.Found)
        {
            return ApiResult.NotFound("Lab");
        }

        await keepers.WakeAsync(request.Id, ct);
        logger.LogInformation("Lab {LabId}: {Outcome} by {By}", request.Id, outcome.Deleted ? "deleted" : $"deactivated ({outcome.LiveInstances} live instances)", Author(request));
        return outcome.Deleted
            ? ApiResult.Ok(outcome, "Lab deleted")
            : ApiResult.Accepted(outcome, $"Lab deactivated: {outcome.LiveInstances} instances of it are live; delete it again once they have ended");
    }

    public Task<ApiResult> ActivateAsync(ApiRequest request, CancellationToken ct) => SetActiveAsync(request, true, ct);

    public Task<ApiResult> DeactivateAsync(ApiRequest request, CancellationToken ct) => SetActiveAsync(request, false, ct);

    private async Task<ApiResult> SetActiveAsync(ApiRequest request, bool active, CancellationToken ct)
    {
        if (FileOnly() is { } refused)
        {
            return refused;
        }

        if (!await store.SetActiveAsync(request.Id, active, Author(request), ct))
        {
            return ApiResult.NotFound("Lab");
        }

        await keepers.WakeAsync(request.Id, ct);
        logger.LogInformation("Lab {LabId}: {State} by {By}", request.Id, active ? "activated" : "deactivated", Author(request));
        return await GetAsync(request, ct) is { Status: 200 } detail ? detail with { Body = detail.Body with { Message = active ? "Lab activated" : "Lab deactivated" } } : ApiResult.NotFound("Lab");
    }

    public async Task<ApiResult> VersionsAsync(ApiRequest request, CancellationToken ct) =>
        await catalog.GetAsync(request.Id, ct) is null ? ApiResult.NotFound("Lab") : ApiResult.Ok(await store.VersionsAsync(request.Id, ct));

    public async Task<ApiResult> VersionAsync(ApiRequest request, CancellationToken ct) =>
        await VersionOfAsync(request, ct) is { } lab ? ApiResult.Ok(new LabVersionView(lab.Version, LabDocument.Definition(lab))) : ApiResult.NotFound("Version");

    /// <summary>Makes an earlier version the lab's definition again, as a new version (history is never rewritten).</summary>
    public async Task<ApiResult> RollbackAsync(ApiRequest request, CancellationToken ct)
    {
        if (FileOnly() is { } refused)
        {
            return refused;
        }

        if (await VersionOfAsync(request, ct) is not { } old || await catalog.GetAsync(request.Id, ct) is not { } current)
        {
            return ApiResult.NotFound("Version");
        }

        // The rules may have changed since (the cloud stopped selling its plan): an old version is checked like a new one.
        var lab = old with { IsActive = current.IsActive, Pool = current.Pool };
        var (problems, denied) = await RulesAsync(lab, ct);
        return denied ?? (problems.Count > 0 ? Invalid(problems) : await SaveAsync(request, lab, $"rolled back to version {old.Version}", ct));
    }

    /// <summary>The whole catalog (inactive labs too) in the catalog file's format: saved as the file, it loads the same labs.</summary>
    public async Task<ApiResult> ExportAsync(ApiRequest request, CancellationToken ct)
    {
        var format = request.QueryValue("format") switch
        {
            "json" => CatalogFormat.Json,
            "yaml" => CatalogFormat.Yaml,
            null or "" => catalogOptions.Value.Format,
            _ => (CatalogFormat?)null,
        };
        if (format is not { } chosen)
        {
            return ApiResult.BadRequest("format must be json or yaml");
        }

        var labs = (await store.ListAllAsync(ct)).Select(e => e.Lab).OrderBy(l => l.Slug, StringComparer.Ordinal);
        var extension = chosen == CatalogFormat.Json ? "json" : "yaml";
        return ApiResult.File(LabDocument.Write(labs, chosen), $"application/{extension}", $"labs.{extension}");
    }

    private async Task<ApiResult> SaveAsync(ApiRequest request, Lab lab, string? note, CancellationToken ct)
    {
        var saved = await store.SaveAsync(lab, Author(request), note, ct);
        if (saved.Conflict is { } conflict)
        {
            return ApiResult.Error(409, "The lab conflicts with another", [conflict]);
        }

        // A pool's VMs booted with the earlier version are retired and replaced at once.
        await keepers.WakeAsync(lab.Id, ct);
        logger.LogInformation("Lab {Lab} ({LabId}): version {Version} by {By}{Note}: {Changes}", lab.Slug, lab.Id, saved.Version, Author(request),
            note is null ? "" : $" ({note})", saved.Changes.Count == 0 ? "no change" : string.Join(", ", saved.Changes));
        var view = new CatalogSaveView(lab.Id, saved.Version, saved.Changes);
        return saved.Created ? ApiResult.Created(view, "Lab created")
            : ApiResult.Ok(view, saved.Changes.Count == 0 ? $"No change; the lab stays at version {saved.Version}" : $"Lab saved as version {saved.Version}");
    }

    /// <summary>Reads the body as a lab (its id the route's, or a new one) and checks every rule; a cloud that cannot be asked refuses with 503.</summary>
    private async Task<(Lab? Lab, IReadOnlyList<string> Problems, ApiResult? Refused)> CheckAsync(ApiRequest request, Guid? id, CancellationToken ct)
    {
        if (request.Json is not JsonObject body)
        {
            return (null, [], ApiResult.BadRequest("The request body must be a lab (a JSON object)"));
        }

        var problems = new List<string>();
        if (id is { } routeId && body["id"] is { } given && given.ToString() != routeId.ToString())
        {
            problems.Add("id: must be the route's id, or left out");
        }

        body = (JsonObject)body.DeepClone();
        body["id"] = id?.ToString() ?? body["id"]?.DeepClone() ?? Guid.NewGuid().ToString();
        var (lab, readProblems) = LabDocument.ReadLab(body, defaults);
        problems.AddRange(readProblems);
        if (lab is null)
        {
            return (null, problems, null);
        }

        var (rules, denied) = await RulesAsync(lab, ct);
        return denied is not null ? (null, [], denied) : (lab, [.. problems, .. rules], null);
    }

    /// <summary>Every rule of <see cref="LabValidator"/>, against the cloud's plans and regions; 503 while the cloud cannot be asked.</summary>
    private async Task<(IReadOnlyList<string> Problems, ApiResult? Denied)> RulesAsync(Lab lab, CancellationToken ct) =>
        await OfferAsync(ct) is { } offer ? (LabValidator.Problems(lab, offer, options.Value.MaxGlobalInstances), null) : ([], CloudUnavailable());

    private async Task<Lab?> VersionOfAsync(ApiRequest request, CancellationToken ct) =>
        int.TryParse(request.Route.GetValueOrDefault("version"), NumberStyles.None, CultureInfo.InvariantCulture, out var version) && version > 0
            ? await catalog.GetAsync(request.Id, version, ct) is { } lab && lab.Version == version ? lab : null
            : null;

    private async Task<CloudOffer?> OfferAsync(CancellationToken ct)
    {
        try
        {
            return await cloud.GetOfferAsync(ct);
        }
        catch (CloudProviderException ex)
        {
            logger.LogWarning("The cloud's plans and regions could not be read: {Reason}", ex.Message);
            return null;
        }
    }

    private ApiResult? FileOnly() => catalogOptions.Value.Mode == CatalogMode.File
        ? ApiResult.Conflict($"Catalog:Mode is file: labs are managed in {catalogOptions.Value.File}, loaded at start; change the file instead")
        : null;

    private static ApiResult Invalid(IReadOnlyList<string> problems) => ApiResult.BadRequest($"The lab is not valid ({problems.Count} problems); nothing was saved", problems);

    private static ApiResult CloudUnavailable() => ApiResult.Error(503, "The cloud's plans and regions cannot be read right now, so the lab cannot be checked; try again shortly");

    private static string Author(ApiRequest request) => request.Caller switch
    {
        { Email: { Length: > 0 } email } caller => $"{email} ({caller.Id})",
        { Name: { Length: > 0 } name } caller => $"{name} ({caller.Id})",
        var caller => caller.Id.ToString(),
    };
}

/// <summary>A lab in the operators' list: whether learners may start it, its version, its live instances and its last change.</summary>
public sealed record CatalogLabView(Guid Id, string Slug, string Name, bool IsActive, int Version, int LiveInstances, DateTimeOffset UpdatedAt, string UpdatedBy)
{
    public static CatalogLabView From(CatalogEntry e) => new(e.Lab.Id, e.Lab.Slug, e.Lab.Name, e.Lab.IsActive, e.Lab.Version, e.LiveInstances, e.UpdatedAt, e.UpdatedBy);
}

/// <summary>A lab with its definition as the catalog file holds it (what PUT takes back).</summary>
public sealed record CatalogLabDetail(CatalogLabView Summary, JsonObject Lab);

/// <summary>The dry run's answer: whether the lab is valid, each problem with its field path, and the VM's user_data when valid.</summary>
public sealed record CatalogCheckView(bool Valid, IReadOnlyList<string> Problems, string? UserData);

/// <summary>A save's answer: the lab's version now and the fields that changed (none: it was already so).</summary>
public sealed record CatalogSaveView(Guid Id, int Version, IReadOnlyList<string> Changes);

/// <summary>One earlier version's definition.</summary>
public sealed record LabVersionView(int Version, JsonObject Lab);
