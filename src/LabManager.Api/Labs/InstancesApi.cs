using System.Globalization;
using LabManager.Api.Http;
using LabManager.Core.Access;
using LabManager.Core.Instances;
using LabManager.Core.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Api.Labs;

/// <summary>Area <c>instances</c>: a learner's lab instances and what they may do with them, and the VM's phone-home.</summary>
public sealed class InstancesApi(
    IInstanceStore instances,
    ILabSessionControl sessions,
    ILabCatalog catalog,
    ICloudProvider cloud,
    ILabHealthStore health,
    IOptions<ApiOptions> options,
    IOptions<AccessOptions> access,
    IOptions<AgentOptions> agent,
    TimeProvider time,
    ILogger<InstancesApi> logger)
{
    private ApiOptions Options => options.Value;

    /// <summary>Body of <c>POST /api/labs/instances/{id}/extend</c>.</summary>
    public sealed record ExtendBody(int Minutes);

    public async Task<ApiResult> ListInstancesAsync(ApiRequest request, CancellationToken ct) =>
        ApiResult.Ok((await instances.ListByUserAsync(request.Caller.Id, ct)).Select(i => InstanceView.From(i)).ToList());

    public Task<ApiResult> GetInstanceAsync(ApiRequest request, CancellationToken ct) =>
        WithInstanceAsync(request, admin: false, async instance =>
            ApiResult.Ok(InstanceView.From(instance, await sessions.GetProgressAsync(instance.Id, ct))), ct);

    public Task<ApiResult> StopAsync(ApiRequest request, CancellationToken ct) =>
        WithInstanceAsync(request, admin: false, instance => StopInstanceAsync(instance, "user", ct), ct);

    public Task<ApiResult> RestartAsync(ApiRequest request, CancellationToken ct) =>
        WhileRunningAsync(request, SessionRequestKind.Rebuild, "restarted", id => sessions.RestartAsync(id, ct), "Restarting", ct);

    public Task<ApiResult> ResetAsync(ApiRequest request, CancellationToken ct) =>
        WhileRunningAsync(request, SessionRequestKind.Rebuild, "reset", id => sessions.ResetAsync(id, ct), "Resetting on a fresh VM", ct);

    public async Task<ApiResult> ExtendAsync(ApiRequest request, CancellationToken ct)
    {
        // Without a body (the seed's client sends none), the default step.
        var minutes = request.BodyAs<ExtendBody>()?.Minutes ?? (int)Options.DefaultExtension.TotalMinutes;
        var maxMinutes = (int)Options.MaxExtension.TotalMinutes;
        if (minutes < 1 || minutes > maxMinutes)
        {
            return ApiResult.BadRequest($"minutes must be between 1 and {maxMinutes}");
        }

        return await WhileRunningAsync(request, SessionRequestKind.Extend, "extended", id => sessions.ExtendAsync(id, TimeSpan.FromMinutes(minutes), ct),
            $"Extending by {minutes} minutes (up to the maximum lifetime)", ct);
    }

    /// <summary>Sent by the VM, so untrusted: a small whole number or nothing (a first boot's report of an older script names none).</summary>
    private static int? Count(ApiRequest request, string name) => request.QueryValue(name) is not { Length: > 0 } v ? 1
        : int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 1_000_000 ? n : null;

    /// <summary>Cloud-init's phone-home: no token, the instance's key in the query instead. A wrong key is answered like an unknown instance.</summary>
    public async Task<ApiResult> LabReadyAsync(ApiRequest request, CancellationToken ct)
    {
        var id = request.Id;
        if (Count(request, "vm") is not { } generation || Count(request, "boot") is not { } boot)
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

    /// <summary>
    /// The agent's heartbeat, keyed like the phone-home. The VM is the learner's, so the body is bounded, checked and stored as data;
    /// at most one per <see cref="AgentOptions.MinInterval"/> is taken. It changes no status: what changed in the containers' health goes
    /// to the session as an event, and network traffic counts as activity for a lab whose traffic does not all pass the gateway.
    /// </summary>
    public async Task<ApiResult> HeartbeatAsync(ApiRequest request, CancellationToken ct)
    {
        if (!sessions.IsVmKey(request.Id, request.QueryValue("key")))
        {
            return ApiResult.NotFound("Instance");
        }

        if (Count(request, "vm") is not { } generation)
        {
            return ApiResult.BadRequest("vm must be a whole number from 1 to 1000000");
        }

        if (request.BodyAs<HeartbeatBody>() is not { } body)
        {
            return ApiResult.BadRequest("A heartbeat needs a body");
        }

        if (body.Problems() is { Count: > 0 } problems)
        {
            return ApiResult.BadRequest(string.Join("; ", problems), problems);
        }

        if (await instances.GetAsync(request.Id, ct) is not { } instance || instance.Status.IsTerminal())
        {
            return ApiResult.NotFound("Instance");
        }

        var now = time.GetUtcNow();
        if (await health.RecordAsync(instance.Id, generation, body, now, agent.Value.MinInterval, ct) is not { } recorded)
        {
            return ApiResult.TooManyRequests($"At most one heartbeat per {agent.Value.MinInterval.TotalSeconds:0.#} s", agent.Value.MinInterval);
        }

        var reading = recorded.Reading;
        if (instance.Status == LabInstanceStatus.Running && reading.Change(recorded.DegradedBefore) is { } change)
        {
            logger.LogInformation("Instance {InstanceId}: the agent reports the lab {Kind}", instance.Id, change.Kind);
            await sessions.ReportHealthAsync(instance.Id, new LabHealthReport(generation, body.Boot, change.Kind, change.Message), ct);
        }

        if (instance.Status == LabInstanceStatus.Running && agent.Value.ActivityBytes > 0 && recorded.NetTotalBefore is { } before
            && reading.NetTotal - before >= agent.Value.ActivityBytes
            && LabFirewall.BypassesGateway((await catalog.GetAsync(instance.LabId, instance.LabVersion, ct))?.ContainerConfig, access.Value))
        {
            await TouchAsync(instance.Id, ct);
        }

        return ApiResult.Accepted(null, "Heartbeat stored");
    }

    /// <summary>The latest heartbeat's containers and the hour's series, for the owner or an operator.</summary>
    public Task<ApiResult> StatsAsync(ApiRequest request, CancellationToken ct) =>
        WithInstanceAsync(request, admin: request.Caller.IsAdmin, async instance =>
            await health.GetAsync(instance.Id, time.GetUtcNow(), ct) is { } stats ? ApiResult.Ok(stats) : ApiResult.NotFound("Heartbeat"), ct);

    /// <summary>The last <c>lines</c> (1–200, default 100) of each container's log, as the agent last sent them.</summary>
    public Task<ApiResult> LogsAsync(ApiRequest request, CancellationToken ct) =>
        WithInstanceAsync(request, admin: request.Caller.IsAdmin, async instance =>
        {
            var lines = 100;
            if (request.QueryValue("lines") is { Length: > 0 } l
                && (!int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out lines) || lines is < 1 or > HeartbeatBody.MaxLogLines))
            {
                return ApiResult.BadRequest($"lines must be a whole number from 1 to {HeartbeatBody.MaxLogLines}");
            }

            var logs = await health.LogsAsync(instance.Id, ct);
            return ApiResult.Ok(new LogsView(logs?.ReceivedAt,
                [.. (logs?.Tails ?? new Dictionary<string, string>()).OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => new ContainerLogView(t.Key, LabAgent.Lines(t.Value, lines)))]));
        }, ct);

    /// <summary>
    /// Opens the lab to its learner (or an operator): in gateway mode a link per web port carrying a ticket good for one use within
    /// <see cref="AccessOptions.TicketLifetime"/>, which the gateway trades for a cookie of that lab's host; otherwise the VM's URL. The
    /// learner's address is recorded, and when it changed, the firewall opens the lab's learner-only ports to the new one instead.
    /// </summary>
    public Task<ApiResult> AccessAsync(ApiRequest request, CancellationToken ct) =>
        WithInstanceAsync(request, admin: request.Caller.IsAdmin, async instance =>
        {
            if (instance.Status != LabInstanceStatus.Running)
            {
                return ApiResult.Conflict($"Only a running lab can be opened; this one is {instance.Status.ToWire()}");
            }

            var container = (await catalog.GetAsync(instance.LabId, instance.LabVersion, ct))?.ContainerConfig;
            var now = time.GetUtcNow();
            if (instance.UserId == request.Caller.Id && request.ClientIp is { } ip && ip != instance.LearnerIp && container is not null)
            {
                var rules = LabFirewall.Rules(container, access.Value, ip);
                if (instance.FirewallGroupId is { } group && !rules.SequenceEqual(LabFirewall.Rules(container, access.Value, instance.LearnerIp)))
                {
                    // Each move costs Vultr calls: bounded per learner, like restarts.
                    var admitted = await instances.TrySessionRequestAsync(
                        new SessionRequest(instance.Id, instance.UserId, SessionRequestKind.Readdress, now, Options.MaxReaddressesPerWindow, Options.ReaddressWindow), ct);
                    if (admitted is SessionRequestOutcome.RateLimited limited)
                    {
                        return ApiResult.TooManyRequests(
                            $"Your lab was opened to a new address too often: at most {Options.MaxReaddressesPerWindow} per {Options.ReaddressWindow.TotalMinutes:F0} minutes", limited.RetryAfter);
                    }

                    try
                    {
                        await cloud.SetFirewallRulesAsync(group, rules, cancellationToken: ct);
                    }
                    catch (CloudProviderException ex)
                    {
                        logger.LogWarning("Instance {InstanceId}: the firewall could not be opened to {Ip}: {Error}", instance.Id, ip, ex.Message);
                        return ApiResult.Error(503, "The lab could not be opened to your address just now; try again in a moment");
                    }
                }

                await instances.SetLearnerIpAsync(instance.Id, ip, ct);
                logger.LogInformation("Instance {InstanceId}: opened to its learner at {Ip}", instance.Id, ip);
            }

            await TouchAsync(instance.Id, ct);
            var webPorts = access.Value.Mode == AccessMode.Gateway ? container?.WebPorts() ?? [] : [];
            if (webPorts.Count == 0)
            {
                return ApiResult.Ok(new AccessView(instance.AccessUrl, null, []));
            }

            var expires = now + access.Value.TicketLifetime;
            var links = new List<AccessLink>();
            foreach (var port in webPorts)
            {
                var ticket = AccessTickets.New();
                await instances.AddAccessTicketAsync(AccessTickets.Hash(ticket), instance.Id, request.Caller.Id, expires, ct);
                var url = access.Value.LabUrl(instance.Id, port, first: links.Count == 0, port == webPorts[0] ? container!.AccessPath : "/");
                links.Add(new AccessLink(port, url + (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + AccessTickets.QueryName + "=" + ticket));
            }

            return ApiResult.Ok(new AccessView(links[0].Url, expires, links));
        }, ct);

    /// <summary>The page's keep-alive: the learner is working on the lab, so its idle clock starts again.</summary>
    public Task<ApiResult> KeepAliveAsync(ApiRequest request, CancellationToken ct) =>
        WithInstanceAsync(request, admin: false, async instance =>
        {
            if (!instance.Status.IsActive())
            {
                return ApiResult.Conflict($"The instance already ended ({instance.Status.ToWire()})");
            }

            await TouchAsync(instance.Id, ct);
            return ApiResult.Accepted(null, "Kept alive");
        }, ct);

    /// <summary>The learner used the lab now: its idle clock starts again.</summary>
    private Task TouchAsync(Guid instanceId, CancellationToken ct) =>
        instances.RecordActivityAsync(new Dictionary<Guid, DateTimeOffset> { [instanceId] = time.GetUtcNow() }, ct);

    public async Task<ApiResult> MyStatsAsync(ApiRequest request, CancellationToken ct) =>
        ApiResult.Ok(await instances.StatsAsync(request.Caller.Id, ct));

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
            // Asking for more of a lab is working on it.
            await TouchAsync(instance.Id, ct);
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
    /// Loads the instance <c>{id}</c> names: any instance for an admin route, otherwise only the caller's own (another user's answers
    /// 404, like a missing one).
    /// </summary>
    internal async Task<ApiResult> WithInstanceAsync(ApiRequest request, bool admin, Func<LabInstance, Task<ApiResult>> action, CancellationToken ct)
    {
        var instance = await instances.GetAsync(request.Id, ct);
        return instance is null || (!admin && instance.UserId != request.Caller.Id) ? ApiResult.NotFound("Instance") : await action(instance);
    }

    internal async Task<ApiResult> StopInstanceAsync(LabInstance instance, string reason, CancellationToken ct)
    {
        if (instance.Status.IsTerminal())
        {
            return ApiResult.Conflict($"The instance already ended ({instance.Status.ToWire()})");
        }

        await instances.RequestStopAsync(instance.Id, time.GetUtcNow(), ct);
        await sessions.StopAsync(instance.Id, reason, ct);
        return ApiResult.Accepted(InstanceView.From(instance), reason == "admin" ? "Force-stopping" : "Stopping");
    }
}
