using LabManager.Core.Labs;

namespace LabManager.Core.Ports;

/// <summary>
/// A learner's progress: sessions, exercises completed with their points, hints revealed (each costing its exercise points),
/// the learner memory the tutor reads, and the tutor's daily quota.
/// </summary>
public interface ILearningProgress
{
    Task<LabProgress> GetLabProgressAsync(Guid userId, Lab lab, CancellationToken cancellationToken = default);

    Task<UserProgress> GetUserProgressAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records a submission, unless the learner made <paramref name="maxPerWindow"/> in the last <paramref name="window"/>.
    /// A first right answer completes the exercise: its points minus the hints revealed for it (never below 0).
    /// </summary>
    Task<SubmissionOutcome> SubmitAsync(Guid userId, Lab lab, Exercise exercise, bool correct, DateTimeOffset at, int maxPerWindow, TimeSpan window,
        CancellationToken cancellationToken = default);

    /// <summary>Reveals a hint; revealing it again changes nothing and costs nothing more.</summary>
    Task<HintReveal> RevealHintAsync(Guid userId, Lab lab, Exercise exercise, Hint hint, DateTimeOffset at, CancellationToken cancellationToken = default);

    Task<LearnerMemory> GetMemoryAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>Whether the learner ever started an instance of the lab (a claimed pooled one too).</summary>
    Task<bool> HasStartedAsync(Guid userId, Guid labId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether <paramref name="answer"/> is the flag of one of the learner's own instances of the lab. The flag of another learner's
    /// instance is wrong, and recorded as a shared-flag signal for operators.
    /// </summary>
    Task<bool> CheckOwnFlagAsync(Guid userId, Lab lab, Exercise exercise, string answer, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>The shared-flag signals since <paramref name="since"/>, newest first.</summary>
    Task<IReadOnlyList<SharedFlagSignal>> SharedFlagSignalsAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken = default);

    /// <summary>Counts one tutor question for the day; false when <paramref name="dailyLimit"/> is reached.</summary>
    Task<bool> TryUseTutorAsync(Guid userId, DateOnly day, int dailyLimit, CancellationToken cancellationToken = default);
}

/// <summary>A learner (<paramref name="UserId"/>) answered with the flag of <paramref name="FlagUserId"/>'s instance.</summary>
public sealed record SharedFlagSignal(DateTimeOffset At, Guid UserId, Guid LabId, string ExerciseId, Guid FlagInstanceId, Guid FlagUserId);

/// <summary>One session of a lab as the learner lived it.</summary>
public sealed record LearningSession(Guid InstanceId, DateTimeOffset? StartedAt, DateTimeOffset? EndedAt, long DurationSeconds, decimal Cost, string? Outcome);

public sealed record ExerciseProgress(
    string ExerciseId,
    string Title,
    int Points,
    bool Completed,
    int PointsAwarded,
    int Attempts,
    IReadOnlyList<RevealedHint> HintsRevealed);

public sealed record RevealedHint(string HintId, string Text, int Cost);

public sealed record LabProgress(Guid LabId, string LabName, IReadOnlyList<LearningSession> Sessions, IReadOnlyList<ExerciseProgress> Exercises, int Points);

public sealed record LabProgressSummary(
    Guid LabId,
    string LabName,
    int Sessions,
    long TotalSeconds,
    decimal TotalCost,
    string? LastOutcome,
    int ExercisesCompleted,
    int Points);

public sealed record UserProgress(int TotalPoints, IReadOnlyList<LabProgressSummary> Labs, LearnerMemory Memory);

/// <summary>What became of a submission.</summary>
public abstract record SubmissionOutcome
{
    /// <summary>Recorded. <paramref name="PointsAwarded"/> is non-zero only on the answer that completed the exercise.</summary>
    public sealed record Recorded(bool Correct, bool AlreadyCompleted, int PointsAwarded, int TotalPoints) : SubmissionOutcome;

    public sealed record RateLimited(TimeSpan RetryAfter) : SubmissionOutcome;
}

public sealed record HintReveal(string HintId, string Text, int Cost, bool AlreadyRevealed);

/// <summary>The compact summary of a learner the tutor is given: labs done, strengths, where they got stuck, hints used.</summary>
public sealed record LearnerMemory(
    IReadOnlyList<string> LabsDone,
    IReadOnlyList<string> Strengths,
    IReadOnlyList<string> StuckOn,
    int HintsUsed,
    int TotalPoints,
    DateTimeOffset? UpdatedAt)
{
    public static LearnerMemory Empty { get; } = new([], [], [], 0, 0, null);
}
