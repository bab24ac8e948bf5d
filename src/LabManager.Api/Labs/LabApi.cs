using System.Globalization;
using LabManager.Api.Auth;
using LabManager.Api.Http;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Api.Labs;

/// <summary>Every route's logic, host-agnostic: the Server and the Functions app map <see cref="ApiRoutes"/> onto these.</summary>
public sealed class LabApi(
    TokenService tokens,
    ILabCatalog catalog,
    IInstanceStore instances,
    ILabSessionControl sessions,
    IReconciler reconciler,
    IReconciliationLog reconciliationLog,
    ITutor tutor,
    IOptions<ApiOptions> options,
    IOptions<AuthOptions> authOptions,
    TimeProvider time,
    ILogger<LabApi> logger)
{
    private ApiOptions Options => options.Value;

    /// <summary>Body of <c>POST /api/labs/{id}/start</c>: <c>timeoutOverride</c> in milliseconds.</summary>
    public sealed record StartBody(long? TimeoutOverride);

    /// <summary>Body of <c>POST /api/labs/instances/{id}/extend</c>.</summary>
    public sealed record ExtendBody(int Minutes);

    /// <summary>Body of <c>POST /api/dev/token</c>.</summary>
    public sealed record DevTokenBody(Guid? UserId, string? Name, bool Admin);

    public async Task<ApiResult> ListLabsAsync(ApiRequest request, CancellationToken ct)
    {
        LabDifficulty? difficulty = null;
        if (request.QueryValue("difficulty") is { Length: > 0 } d)
        {
            if (!Enum.TryParse<LabDifficulty>(d, ignoreCase: true, out var parsed) || int.TryParse(d, out _))
            {
                return ApiResult.BadRequest($"difficulty must be one of {string.Join(", ", Enum.GetNames<LabDifficulty>().Select(n => n.ToLowerInvariant()))}");
            }

            difficulty = parsed;
        }

        var category = request.QueryValue("category");
        var search = request.QueryValue("search")?.Trim();
        var labs = (await catalog.ListAsync(ct))
            .Where(l => string.IsNullOrEmpty(category) || string.Equals(l.Category, category, StringComparison.OrdinalIgnoreCase))
            .Where(l => difficulty is null || l.Difficulty == difficulty)
            .Where(l => string.IsNullOrEmpty(search) || Matches(l, search))
            .Select(LabView.From)
            .ToList();
        return ApiResult.Ok(labs);
    }

    public async Task<ApiResult> GetLabAsync(ApiRequest request, CancellationToken ct)
    {
        var (labId, badId) = request.RouteId("id", "lab");
        if (badId is not null)
        {
            return badId;
        }

        // The catalog is public; a token, when sent, adds the caller's instances.
        var user = request.User;
        var lab = await catalog.GetAsync(labId, ct);
        if (lab is not { IsActive: true })
        {
            return ApiResult.NotFound("Lab");
        }

        var mine = user is null ? [] : (await instances.ListByUserAsync(user.Id, ct)).Where(i => i.LabId == lab.Id).Select(i => InstanceView.From(i)).ToList();
        return ApiResult.Ok(new LabDetailView(LabView.From(lab), mine));
    }

    public async Task<ApiResult> StartLabAsync(ApiRequest request, CancellationToken ct)
    {
        var user = request.Caller;
        var (labId, badId) = request.RouteId("id", "lab");
        if (badId is not null)
        {
            return badId;
        }

        var (body, badBody) = request.ReadJson(new StartBody(null));
        if (badBody is not null)
        {
            return badBody;
        }

        var lab = await catalog.GetAsync(labId, ct);
        if (lab is not { IsActive: true })
        {
            return ApiResult.NotFound("Lab");
        }

        var length = lab.TimeoutDuration;
        if (body!.TimeoutOverride is { } ms)
        {
            var min = Options.MinSessionLength;
            var max = sessions.MaxLifetime;
            if (ms < min.TotalMilliseconds || ms > max.TotalMilliseconds)
            {
                return ApiResult.BadRequest($"timeoutOverride must be between {min.TotalMilliseconds:F0} and {max.TotalMilliseconds:F0} ms");
            }

            length = TimeSpan.FromMilliseconds(ms);
        }

        var quotas = new QuotaPolicy(Options.MaxContainersPerUser, Options.MaxGlobalInstances, Options.MaxStartsPerWindow, Options.StartWindow);
        var outcome = await instances.TryStartAsync(new StartRequest(Guid.NewGuid(), user, lab, time.GetUtcNow(), quotas), ct);
        switch (outcome)
        {
            case StartOutcome.Existing existing:
                await ScheduleIfLostAsync(existing.Instance, length, ct);
                return ApiResult.Ok(InstanceView.From(existing.Instance), "This lab is already starting or running for you");
            case StartOutcome.QuotaExceeded quota:
                return ApiResult.Error(409, QuotaMessage(quota), [quota.Quota]);
            case StartOutcome.RateLimited limited:
                return ApiResult.TooManyRequests($"Too many starts: at most {Options.MaxStartsPerWindow} per {Options.StartWindow.TotalMinutes:F0} minutes", limited.RetryAfter);
        }

        var created = ((StartOutcome.Created)outcome).Instance;
        try
        {
            await sessions.StartAsync(created.Id, user.Id, lab.Id, length, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Instance {InstanceId}: the session could not be scheduled", created.Id);
            var failed = created.MoveTo(LabInstanceStatus.Error, time.GetUtcNow()) with { ErrorMessage = "The lab session could not be scheduled" };
            await instances.UpdateAsync(failed, CancellationToken.None);
            return ApiResult.Error(503, "The lab could not be started right now; try again shortly");
        }

        logger.LogInformation("Instance {InstanceId}: user {UserId} started lab {Lab} for {Minutes} min", created.Id, user.Id, lab.Slug, length.TotalMinutes);
        return ApiResult.Created(InstanceView.From(created), "Lab starting");
    }

    /// <summary>
    /// A start admitted but never scheduled (the process stopped in between) is scheduled when the learner starts again,
    /// instead of waiting for reconciliation to end it. Young instances are left to the request that admitted them.
    /// </summary>
    private async Task ScheduleIfLostAsync(LabInstance instance, TimeSpan length, CancellationToken ct)
    {
        if (instance.Status != LabInstanceStatus.Starting || time.GetUtcNow() - instance.CreatedAt < TimeSpan.FromSeconds(10)
            || await sessions.GetProgressAsync(instance.Id, ct) is not null)
        {
            return;
        }

        try
        {
            await sessions.StartAsync(instance.Id, instance.UserId, instance.LabId, length, ct);
            logger.LogWarning("Instance {InstanceId}: its session had never been scheduled; scheduled it on the learner's new start", instance.Id);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Instance {InstanceId}: its lost session could not be scheduled; reconciliation will end it", instance.Id);
        }
    }

    public Task<ApiResult> StopAsync(ApiRequest request, CancellationToken ct) =>
        WithInstanceAsync(request, admin: false, instance => StopInstanceAsync(instance, "user", ct), ct);

    public Task<ApiResult> RestartAsync(ApiRequest request, CancellationToken ct) =>
        WhileRunningAsync(request, SessionRequestKind.Rebuild, "restarted", id => sessions.RestartAsync(id, ct), "Restarting", ct);

    public Task<ApiResult> ResetAsync(ApiRequest request, CancellationToken ct) =>
        WhileRunningAsync(request, SessionRequestKind.Rebuild, "reset", id => sessions.ResetAsync(id, ct), "Resetting on a fresh VM", ct);

    public async Task<ApiResult> ExtendAsync(ApiRequest request, CancellationToken ct)
    {
        var (body, badBody) = request.ReadJson<ExtendBody?>(null);
        if (badBody is not null)
        {
            return badBody;
        }

        // Without a body (the seed's client sends none), the default step.
        var minutes = body?.Minutes ?? (int)Options.DefaultExtension.TotalMinutes;
        var maxMinutes = (int)Options.MaxExtension.TotalMinutes;
        if (minutes < 1 || minutes > maxMinutes)
        {
            return ApiResult.BadRequest($"minutes must be between 1 and {maxMinutes}");
        }

        return await WhileRunningAsync(request, SessionRequestKind.Extend, "extended", id => sessions.ExtendAsync(id, TimeSpan.FromMinutes(minutes), ct),
            $"Extending by {minutes} minutes (up to the maximum lifetime)", ct);
    }

    /// <summary>Cloud-init's phone-home: no token, the instance's key in the query instead. A wrong key is answered like an unknown instance.</summary>
    public async Task<ApiResult> LabReadyAsync(ApiRequest request, CancellationToken ct)
    {
        var (id, badId) = request.RouteId("id", "instance");
        if (badId is not null)
        {
            return badId;
        }

        // Sent by the VM, so untrusted: small whole numbers or nothing (a first boot's report of an older script names neither).
        int? Count(string name) => request.QueryValue(name) is not { Length: > 0 } v ? 1
            : int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 1_000_000 ? n : null;
        if (Count("vm") is not { } generation || Count("boot") is not { } boot)
        {
            return ApiResult.BadRequest("vm and boot must be whole numbers from 1 to 1000000");
        }

        if (!await sessions.LabReadyAsync(id, request.QueryValue("key"), generation, boot, ct))
        {
            return ApiResult.NotFound("Instance");
        }

        logger.LogInformation("Instance {InstanceId}: the lab phoned home (VM {Generation}, boot {Boot})", id, generation, boot);
        return ApiResult.Accepted(null, "Lab reported ready");
    }

    public async Task<ApiResult> ListInstancesAsync(ApiRequest request, CancellationToken ct) =>
        ApiResult.Ok((await instances.ListByUserAsync(request.Caller.Id, ct)).Select(i => InstanceView.From(i)).ToList());

    public async Task<ApiResult> MyStatsAsync(ApiRequest request, CancellationToken ct) =>
        ApiResult.Ok(await instances.StatsAsync(request.Caller.Id, ct));

    public Task<ApiResult> GetInstanceAsync(ApiRequest request, CancellationToken ct) =>
        WithInstanceAsync(request, admin: false, async instance =>
            ApiResult.Ok(InstanceView.From(instance, await sessions.GetProgressAsync(instance.Id, ct))), ct);

    public async Task<ApiResult> AdminListInstancesAsync(ApiRequest request, CancellationToken ct)
    {
        var activeOnly = request.QueryValue("all") is not ("true" or "1");
        var labs = (await catalog.ListAsync(ct)).ToDictionary(l => l.Id);
        var listed = await instances.ListAsync(activeOnly, 1000, ct);
        var users = await instances.UserNamesAsync([.. listed.Select(i => i.UserId).Distinct()], ct);
        var now = time.GetUtcNow();
        return ApiResult.Ok(listed.Select(i => InstanceView.ForOperator(i, labs.GetValueOrDefault(i.LabId), users.GetValueOrDefault(i.UserId), now)).ToList());
    }

    /// <summary>Active instances minute by minute over the last <c>minutes</c> (default 60, at most a day).</summary>
    public async Task<ApiResult> AdminActivityAsync(ApiRequest request, CancellationToken ct)
    {
        var minutes = 60;
        if (request.QueryValue("minutes") is { Length: > 0 } m && (!int.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out minutes) || minutes is < 5 or > 1440))
        {
            return ApiResult.BadRequest("minutes must be a whole number from 5 to 1440");
        }

        var step = TimeSpan.FromMinutes(1);
        var to = time.GetUtcNow();
        var from = to - minutes * step;
        return ApiResult.Ok(new ActivityView(from, (int)step.TotalSeconds, await instances.ActiveCountsAsync(from, step, minutes + 1, ct)));
    }

    public Task<ApiResult> FeaturesAsync(ApiRequest request, CancellationToken ct) =>
        Task.FromResult(ApiResult.Ok(new FeaturesView(authOptions.Value.DevTokens, tutor.IsEnabled, Options.RealtimeUrl)));

    public Task<ApiResult> AdminStopAsync(ApiRequest request, CancellationToken ct) =>
        WithInstanceAsync(request, admin: true, instance => StopInstanceAsync(instance, "admin", ct), ct);

    public async Task<ApiResult> AdminCleanupAsync(ApiRequest request, CancellationToken ct) =>
        await reconciler.RunAsync(ct) is { } report
            ? ApiResult.Ok(report, "Reconciliation ran")
            : ApiResult.Conflict("A reconciliation is already running; try again shortly");

    public async Task<ApiResult> AdminReconciliationRunsAsync(ApiRequest request, CancellationToken ct) =>
        ApiResult.Ok(await reconciliationLog.RecentAsync(20, ct));

    public Task<ApiResult> DevTokenAsync(ApiRequest request, CancellationToken ct) => Task.FromResult(DevToken(request));

    private ApiResult DevToken(ApiRequest request)
    {
        if (!authOptions.Value.DevTokens)
        {
            return ApiResult.NotFound("Route");
        }

        var (body, badBody) = request.ReadJson(new DevTokenBody(null, null, false));
        if (badBody is not null)
        {
            return badBody;
        }

        var userId = body!.UserId ?? Guid.NewGuid();
        var lifetime = TimeSpan.FromHours(8);
        var token = tokens.MintDevToken(userId, body.Name, body.Admin, lifetime);
        return ApiResult.Ok(new { token, userId, admin = body.Admin, expiresIn = (int)lifetime.TotalSeconds }, "Development token: never enable this route in production");
    }

    /// <summary>
    /// A restart, reset or extension: admitted by the store under the learner's limit, one rebuild at a time (the first moves the
    /// instance to provisioning, so those that follow answer 409), then sent to the session. A refused request sends nothing.
    /// </summary>
    private async Task<ApiResult> WhileRunningAsync(ApiRequest request, SessionRequestKind kind, string verb, Func<Guid, Task> send, string message, CancellationToken ct) =>
        await WithInstanceAsync(request, admin: false, async instance =>
        {
            if (kind == SessionRequestKind.Extend && instance.StartedAt + sessions.MaxLifetime <= instance.ExpiresAt)
            {
                return ApiResult.Conflict($"This lab already runs until its maximum lifetime ({sessions.MaxLifetime.TotalHours:0.#} h from its start)");
            }

            var (max, window) = kind == SessionRequestKind.Rebuild
                ? (Options.MaxRebuildsPerWindow, Options.RebuildWindow)
                : (Options.MaxExtendsPerWindow, Options.ExtendWindow);
            var outcome = await instances.TrySessionRequestAsync(new SessionRequest(instance.Id, instance.UserId, kind, time.GetUtcNow(), max, window), ct);
            switch (outcome)
            {
                case SessionRequestOutcome.NotRunning { Status: LabInstanceStatus.Provisioning } when instance.StartedAt is not null:
                    return ApiResult.Conflict($"This lab is already restarting; it cannot be {verb} until it runs again");
                case SessionRequestOutcome.NotRunning notRunning:
                    return ApiResult.Conflict($"Only a running lab can be {verb}; this one is {notRunning.Status.ToWire()}");
                case SessionRequestOutcome.RateLimited limited:
                    return ApiResult.TooManyRequests(
                        $"Too many {(kind == SessionRequestKind.Rebuild ? "restarts and resets" : "extensions")}: at most {max} per {window.TotalMinutes:F0} minutes", limited.RetryAfter);
            }

            var accepted = ((SessionRequestOutcome.Accepted)outcome).Instance;
            try
            {
                await send(instance.Id);
            }
            catch (Exception ex) when (kind == SessionRequestKind.Rebuild && ex is not OperationCanceledException)
            {
                // Nothing reached the session: put the instance back as it was, so the learner can try again.
                await instances.UpdateAsync((await instances.GetAsync(instance.Id, CancellationToken.None))! with { Status = LabInstanceStatus.Running }, CancellationToken.None);
                throw;
            }

            return ApiResult.Accepted(InstanceView.From(accepted), message);
        }, ct);

    /// <summary>
    /// Parses <c>{id}</c> and loads the instance: any instance for an admin route, otherwise only the caller's own (another
    /// user's answers 404, like a missing one).
    /// </summary>
    private async Task<ApiResult> WithInstanceAsync(ApiRequest request, bool admin, Func<LabInstance, Task<ApiResult>> action, CancellationToken ct)
    {
        var (id, badId) = request.RouteId("id", "instance");
        if (badId is not null)
        {
            return badId;
        }

        var instance = await instances.GetAsync(id, ct);
        return instance is null || (!admin && instance.UserId != request.Caller.Id) ? ApiResult.NotFound("Instance") : await action(instance);
    }

    private async Task<ApiResult> StopInstanceAsync(LabInstance instance, string reason, CancellationToken ct)
    {
        if (instance.Status.IsTerminal())
        {
            return ApiResult.Conflict($"The instance already ended ({instance.Status.ToWire()})");
        }

        await instances.RequestStopAsync(instance.Id, time.GetUtcNow(), ct);
        await sessions.StopAsync(instance.Id, reason, ct);
        return ApiResult.Accepted(InstanceView.From(instance), reason == "admin" ? "Force-stopping" : "Stopping");
    }


    private static bool Matches(Lab lab, string search) =>
        lab.Name.Contains(search, StringComparison.OrdinalIgnoreCase)
        || lab.Description.Contains(search, StringComparison.OrdinalIgnoreCase)
        || lab.Tags.Any(t => t.Contains(search, StringComparison.OrdinalIgnoreCase));

    private static string QuotaMessage(StartOutcome.QuotaExceeded quota) => quota.Quota switch
    {
        "user" => $"You already have {quota.Limit} active labs, the most allowed; stop one first",
        "lab" => $"You already have {quota.Limit} active instance(s) of this lab, the most allowed",
        _ => $"The platform is at its limit of {quota.Limit} active labs; try again later",
    };
}
