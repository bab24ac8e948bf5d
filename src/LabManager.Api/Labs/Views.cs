using LabManager.Core.Costs;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;

namespace LabManager.Api.Labs;

/// <summary>A lab as the API shows it: hint texts stay hidden (revealing one is a separate, costed action), answer checks are never shown.</summary>
public record LabView(
    Guid Id,
    string Slug,
    string Name,
    string Description,
    string Category,
    LabDifficulty Difficulty,
    int EstimatedTimeMinutes,
    int Points,
    IReadOnlyList<string> Tags,
    IReadOnlyList<ExerciseView> Exercises,
    IReadOnlyList<string> Prerequisites,
    IReadOnlyList<string> LearningObjectives,
    int TimeoutMinutes,
    int MaxInstancesPerUser)
{
    public static LabView From(Lab l) => new(
        l.Id, l.Slug, l.Name, l.Description, l.Category, l.Difficulty, l.EstimatedTimeMinutes, l.Points, l.Tags,
        [.. l.Exercises.Select(e => new ExerciseView(e.Id, e.Title, e.Description, e.Points, e.Check is not null, [.. e.Hints.Select(h => new HintView(h.Id, h.Cost))]))],
        l.Prerequisites, l.LearningObjectives, l.TimeoutMinutes, l.MaxInstancesPerUser);
}

/// <summary>An exercise without its answer check; <see cref="Answerable"/> says whether answers can be submitted.</summary>
public sealed record ExerciseView(string Id, string Title, string Description, int Points, bool Answerable, IReadOnlyList<HintView> Hints);

public sealed record HintView(string Id, int Cost);

/// <summary><c>GET /api/labs/{id}</c>: the lab's own fields with the caller's instances of it beside them (the seed's <c>Lab &amp; {userInstances, isRunning}</c>).</summary>
public sealed record LabDetailView : LabView
{
    public LabDetailView(LabView lab, IReadOnlyList<InstanceView> userInstances) : base(lab)
    {
        UserInstances = userInstances;
        IsRunning = userInstances.Any(i => i.Status == LabInstanceStatus.Running);
    }

    public IReadOnlyList<InstanceView> UserInstances { get; }

    public bool IsRunning { get; }
}

/// <summary>A lab instance as the API shows it, with the workflow's progress when asked for.</summary>
public sealed record InstanceView(
    Guid Id,
    Guid LabId,
    Guid UserId,
    LabInstanceStatus Status,
    string? CloudInstanceId,
    string? PublicIp,
    string? AccessUrl,
    IReadOnlyList<int> Ports,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? EndedAt,
    string? ErrorMessage,
    int RestartCount,
    string? VmStatus,
    DateTimeOffset? VmCheckedAt,
    SessionProgress? Progress = null,
    string? LabName = null,
    decimal? CostSoFar = null,
    string? UserName = null,
    HealthSummary? Agent = null)
{
    /// <summary>For the learner: the VM's address stays an operator's detail (a TCP lab's URL names it, since nothing else reaches it).</summary>
    public static InstanceView From(LabInstance i, SessionProgress? progress = null) => new(
        i.Id, i.LabId, i.UserId, i.Status, i.CloudInstanceId, null, i.AccessUrl, i.Ports, i.CreatedAt, i.StartedAt,
        i.ExpiresAt, i.EndedAt, i.ErrorMessage, i.RestartCount, i.VmStatus, i.VmCheckedAt, progress);

    /// <summary>
    /// For operators: with the learner's and the lab's names and what its VMs have cost so far — every VM the session was given (a
    /// reset adds one), each billed from its creation, one hour at least: the figure the session records when it ends.
    /// </summary>
    public static InstanceView ForOperator(LabInstance i, Lab? lab, string? userName, DateTimeOffset now) => From(i) with
    {
        PublicIp = i.PublicIp,
        UserName = userName,
        LabName = lab?.Name,
        CostSoFar = lab is null ? null : SessionCost.ForVms(lab.Plan, i.Vms, i.EndedAt ?? now),
    };
}

/// <summary><c>POST /api/labs/instances/{id}/access</c>: the URL to open (with its one-use ticket, in gateway mode), until when the tickets are good, and a link per web port.</summary>
public sealed record AccessView(string? Url, DateTimeOffset? TicketExpiresAt, IReadOnlyList<AccessLink> Links);

/// <summary>One web port of a lab and the link that opens it.</summary>
public sealed record AccessLink(int Port, string Url);

/// <summary>
/// <c>GET /api/features</c>: what this deployment offers, so a frontend shows only what works. <see cref="RealtimeUrl"/> is what a
/// SignalR client connects to for live status (the Server's hub, or the Functions app's negotiate route), null without live status.
/// </summary>
public sealed record FeaturesView(bool DevTokens, bool Tutor, string? RealtimeUrl);

/// <summary><c>GET /api/admin/activity</c>: active instances at each step from <see cref="From"/> to now.</summary>
public sealed record ActivityView(DateTimeOffset From, int StepSeconds, IReadOnlyList<int> Active);

/// <summary>
/// A lab's warm pool for operators: its settings, the VMs ready and booting, the last hour's claims and cold starts with the share
/// the pool served, and what its waiting VMs cost an hour.
/// </summary>
public sealed record PoolView(
    Guid LabId, string Slug, string Name, int Min, int Max, int MaxAgeMinutes, IReadOnlyList<PoolWarmUp> WarmUps, int Ready, int Booting,
    int ClaimedLastHour, int ColdLastHour, double? HitRate, decimal? IdleCostPerHour)
{
    public static PoolView From(Lab lab, PoolCounts counts)
    {
        var pool = lab.Pool ?? LabPool.None;
        var price = Core.Costs.SessionCost.HourlyPrices.TryGetValue(lab.Plan, out var p) ? p : (decimal?)null;
        return new(lab.Id, lab.Slug, lab.Name, pool.Min, pool.Max, pool.MaxAgeMinutes, pool.WarmUps, counts.Ready, counts.Booting, counts.Claimed, counts.Cold,
            counts.HitRate, price * (counts.Ready + counts.Booting));
    }
}

/// <summary><c>GET /api/labs/instances/{id}/logs</c>: each container's last lines, as the agent last sent them; text, never markup.</summary>
public sealed record LogsView(DateTimeOffset? ReceivedAt, IReadOnlyList<ContainerLogView> Containers);

public sealed record ContainerLogView(string Name, string Text);

/// <summary><c>POST /api/labs/{id}/tutor</c>: the tutor's answer.</summary>
public sealed record TutorAnswerView(string Answer);

/// <summary><c>POST /api/dev/token</c>: a development token and whom it names.</summary>
public sealed record DevTokenView(string Token, Guid UserId, bool Admin, int ExpiresIn);
