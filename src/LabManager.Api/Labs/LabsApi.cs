using LabManager.Api.Auth;
using LabManager.Api.Http;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Api.Labs;

/// <summary>Area <c>labs</c>: the catalog, starting a lab, and what the deployment offers.</summary>
public sealed class LabsApi(
    TokenService tokens,
    ILabCatalog catalog,
    IInstanceStore instances,
    ILabSessionControl sessions,
    PoolKeepers keepers,
    ITutor tutor,
    IOptions<ApiOptions> options,
    IOptions<AuthOptions> authOptions,
    TimeProvider time,
    ILogger<LabsApi> logger)
{
    private ApiOptions Options => options.Value;

    /// <summary>Body of <c>POST /api/labs/{id}/start</c>: <c>timeoutOverride</c> in milliseconds.</summary>
    public sealed record StartBody(long? TimeoutOverride);

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
        // The catalog is public; a token, when sent, adds the caller's instances.
        var user = request.User;
        var lab = await catalog.GetAsync(request.Id, ct);
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
        var body = request.BodyAs<StartBody>() ?? new StartBody(null);
        var lab = await catalog.GetAsync(request.Id, ct);
        if (lab is not { IsActive: true })
        {
            return ApiResult.NotFound("Lab");
        }

        var length = lab.TimeoutDuration;
        if (body.TimeoutOverride is { } ms)
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
                await ScheduleIfLostAsync(existing.Instance, lab, length, ct);
                return ApiResult.Ok(InstanceView.From(existing.Instance), "This lab is already starting or running for you");
            case StartOutcome.QuotaExceeded quota:
                return ApiResult.Error(409, QuotaMessage(quota), [quota.Quota]);
            case StartOutcome.RateLimited limited:
                return ApiResult.TooManyRequests($"Too many starts: at most {Options.MaxStartsPerWindow} per {Options.StartWindow.TotalMinutes:F0} minutes", limited.RetryAfter);
            case StartOutcome.Claimed claimed:
                return await HandOverAsync(claimed.Instance, lab, length, request.ClientIp, ct);
        }

        var created = ((StartOutcome.Created)outcome).Instance;
        try
        {
            // Where the learner is: what the firewall opens the lab's non-web ports (all of them, in direct mode) to.
            if (request.ClientIp is { } ip)
            {
                await instances.SetLearnerIpAsync(created.Id, ip, ct);
            }

            await sessions.StartAsync(created.Id, user.Id, lab, length, ct);
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
    /// A ready pooled VM the learner just claimed: their address is recorded (what its firewall then opens to them), its session is told
    /// it is theirs and runs it at once, and the pool's keeper is woken to boot its replacement.
    /// </summary>
    private async Task<ApiResult> HandOverAsync(LabInstance claimed, Lab lab, TimeSpan length, string? clientIp, CancellationToken ct)
    {
        try
        {
            if (clientIp is { } ip)
            {
                await instances.SetLearnerIpAsync(claimed.Id, ip, ct);
            }

            await sessions.ClaimAsync(claimed.Id, claimed.UserId, lab, length, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Instance {InstanceId}: the pooled session could not be handed over", claimed.Id);
            await sessions.StopAsync(claimed.Id, "pool", CancellationToken.None);
            return ApiResult.Error(503, "The lab could not be started right now; try again shortly");
        }

        await WakeKeeperAsync(lab.Id);
        logger.LogInformation("Instance {InstanceId}: user {UserId} claimed a pooled VM of lab {Lab} for {Minutes} min", claimed.Id, claimed.UserId, lab.Slug, length.TotalMinutes);
        return ApiResult.Created(InstanceView.From(claimed), "Lab starting from the warm pool");
    }

    /// <summary>Wakes the lab's pool keeper; a keeper that cannot be reached now looks again at its next turn.</summary>
    private async Task WakeKeeperAsync(Guid labId)
    {
        try
        {
            await keepers.WakeAsync(labId, CancellationToken.None);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "The pool keeper of lab {LabId} could not be woken", labId);
        }
    }

    /// <summary>
    /// A start admitted but never scheduled (the process stopped in between) is scheduled when the learner starts again,
    /// instead of waiting for reconciliation to end it. Young instances are left to the request that admitted them.
    /// </summary>
    private async Task ScheduleIfLostAsync(LabInstance instance, Lab lab, TimeSpan length, CancellationToken ct)
    {
        if (instance.Status != LabInstanceStatus.Starting || time.GetUtcNow() - instance.CreatedAt < TimeSpan.FromSeconds(10)
            || await sessions.GetProgressAsync(instance.Id, ct) is not null)
        {
            return;
        }

        try
        {
            // The version the instance was made for, whatever the lab is now.
            await sessions.StartAsync(instance.Id, instance.UserId, await catalog.GetAsync(lab.Id, instance.LabVersion, ct) ?? lab, length, ct);
            logger.LogWarning("Instance {InstanceId}: its session had never been scheduled; scheduled it on the learner's new start", instance.Id);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Instance {InstanceId}: its lost session could not be scheduled; reconciliation will end it", instance.Id);
        }
    }

    public Task<ApiResult> FeaturesAsync(ApiRequest request, CancellationToken ct) =>
        Task.FromResult(ApiResult.Ok(new FeaturesView(authOptions.Value.DevTokens, tutor.IsEnabled, Options.RealtimeUrl)));

    public Task<ApiResult> DevTokenAsync(ApiRequest request, CancellationToken ct) => Task.FromResult(DevToken(request));

    private ApiResult DevToken(ApiRequest request)
    {
        if (!authOptions.Value.DevTokens)
        {
            return ApiResult.NotFound("Route");
        }

        var body = request.BodyAs<DevTokenBody>() ?? new DevTokenBody(null, null, false);
        var userId = body.UserId ?? Guid.NewGuid();
        var lifetime = TimeSpan.FromHours(8);
        var token = tokens.MintDevToken(userId, body.Name, body.Admin, lifetime);
        return ApiResult.Ok(new DevTokenView(token, userId, body.Admin, (int)lifetime.TotalSeconds), "Development token: never enable this route in production");
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
