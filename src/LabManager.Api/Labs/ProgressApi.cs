using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using LabManager.Api.Auth;
using LabManager.Api.Http;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Api.Labs;

/// <summary>Learning progress, exercise submissions, hints and the tutor, host-agnostic like the other areas.</summary>
public sealed class ProgressApi(
    ILabCatalog catalog,
    IInstanceStore instances,
    ILearningProgress progress,
    ITutor tutor,
    IEnumerable<IAnswerChecker> checkers,
    IOptions<ApiOptions> options,
    IOptions<TutorOptions> tutorOptions,
    TimeProvider time,
    ILogger<ProgressApi> logger)
{
    /// <summary>Body of <c>POST .../submit</c>.</summary>
    public sealed record SubmitBody(string? Answer);

    /// <summary>Body of <c>POST /api/labs/{id}/tutor</c>.</summary>
    public sealed record TutorBody(string? Question);

    /// <summary>Longest answer or question.</summary>
    public const int MaxTextLength = 2000;

    public async Task<ApiResult> LabProgressAsync(ApiRequest request, CancellationToken ct)
    {
        var (user, lab, denied) = await UserAndLabAsync(request, ct);
        return denied ?? ApiResult.Ok(await progress.GetLabProgressAsync(user!.Id, lab!, ct));
    }

    public async Task<ApiResult> MyProgressAsync(ApiRequest request, CancellationToken ct) =>
        ApiResult.Ok(await progress.GetUserProgressAsync(request.Caller.Id, ct));

    public async Task<ApiResult> SubmitAsync(ApiRequest request, CancellationToken ct)
    {
        var (user, lab, exercise, denied) = await UserLabAndExerciseAsync(request, ct);
        if (denied is not null)
        {
            return denied;
        }

        var (answer, badAnswer) = Text(request.BodyAs<SubmitBody>()?.Answer, "answer");
        if (badAnswer is not null)
        {
            return badAnswer;
        }

        if (exercise!.Check is not { } check)
        {
            return ApiResult.BadRequest("This exercise has no answer to submit");
        }

        if (exercise.NeedsLab && !await progress.HasStartedAsync(user!.Id, lab!.Id, ct))
        {
            return ApiResult.Conflict("Start the lab first: this exercise's answer comes from your own lab");
        }

        var now = time.GetUtcNow();
        var correct = check.DynamicFlag is not null
            ? await progress.CheckOwnFlagAsync(user!.Id, lab!, exercise, answer!, now, ct)
            : Flags.IsRight(check, answer!, checkers);
        var limits = options.Value;
        switch (await progress.SubmitAsync(user!.Id, lab!, exercise, correct, now, limits.MaxSubmissionsPerWindow, limits.SubmissionWindow, ct))
        {
            case SubmissionOutcome.RateLimited limited:
                return ApiResult.TooManyRequests($"Too many answers: at most {limits.MaxSubmissionsPerWindow} per {limits.SubmissionWindow.TotalSeconds:F0} s", limited.RetryAfter);
            case SubmissionOutcome.Recorded recorded:
                logger.LogInformation("User {UserId} answered {Lab}/{Exercise}: {Result}", user.Id, lab!.Slug, exercise.Id, correct ? "right" : "wrong");
                var message = !correct ? "Not quite; try again"
                    : recorded.AlreadyCompleted ? "Right; this exercise was already solved"
                    : $"Right! {recorded.PointsAwarded} points";
                return ApiResult.Ok(recorded, message);
            default:
                throw new InvalidOperationException("Unknown submission outcome");
        }
    }

    public async Task<ApiResult> RevealHintAsync(ApiRequest request, CancellationToken ct)
    {
        var (user, lab, exercise, denied) = await UserLabAndExerciseAsync(request, ct);
        if (denied is not null)
        {
            return denied;
        }

        var hintId = request.Route.GetValueOrDefault("hintId");
        if (exercise!.Hints.FirstOrDefault(h => h.Id == hintId) is not { } hint)
        {
            return ApiResult.NotFound("Hint");
        }

        var reveal = await progress.RevealHintAsync(user!.Id, lab!, exercise, hint, time.GetUtcNow(), ct);
        return ApiResult.Ok(reveal, reveal.AlreadyRevealed ? "Already revealed; it cost nothing more" : $"Hint revealed: -{hint.Cost} points on this exercise");
    }

    public async Task<ApiResult> AskTutorAsync(ApiRequest request, CancellationToken ct)
    {
        var (user, lab, denied) = await UserAndLabAsync(request, ct);
        if (denied is not null)
        {
            return denied;
        }

        var (question, badQuestion) = Text(request.BodyAs<TutorBody>()?.Question, "question");
        if (badQuestion is not null)
        {
            return badQuestion;
        }

        if (!tutor.IsEnabled)
        {
            return ApiResult.Error(503, NoTutor);
        }

        var limit = tutorOptions.Value.DailyQuestionsPerUser;
        if (!await progress.TryUseTutorAsync(user!.Id, DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime), limit, ct))
        {
            return ApiResult.Error(429, $"You have asked the tutor {limit} questions today, the most allowed; try again tomorrow (UTC)");
        }

        var prompt = TutorPrompt.Build(lab!, await progress.GetLabProgressAsync(user.Id, lab!, ct), await progress.GetMemoryAsync(user.Id, ct));
        if (request.WantsEvents)
        {
            return ApiResult.EventStream(StreamAnswerAsync(user.Id, lab!, prompt, question!, ct));
        }

        try
        {
            var answer = TutorPrompt.RedactFlags(await tutor.AnswerAsync(prompt, question!, ct), lab!);
            return ApiResult.Ok(new TutorAnswerView(answer), "The tutor answered");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            logger.LogError(ex, "The tutor failed for user {UserId} on {Lab}", user.Id, lab!.Slug);
            return ApiResult.Error(502, TutorFailed);
        }
    }

    public const string NoTutor = "The tutor is not available: this server has no Tutor:Provider (or Tutor:ApiKey) configured";

    private const string TutorFailed = "The tutor could not answer right now; try again shortly";

    /// <summary>
    /// The answer as events: <c>delta</c> {text} as the model produces it, redacted a whole word at a time (<see cref="FlagRedactor"/>),
    /// then <c>done</c> {answer} with the whole redacted text, or <c>error</c> {message} if the model fails midway.
    /// </summary>
    private async IAsyncEnumerable<SseItem<string>> StreamAnswerAsync(Guid userId, Lab lab, string prompt, string question, [EnumeratorCancellation] CancellationToken ct)
    {
        var redactor = new FlagRedactor(lab);
        await using var pieces = tutor.StreamAsync(prompt, question, ct).GetAsyncEnumerator(ct);
        while (true)
        {
            bool more;
            string shown;
            try
            {
                more = await pieces.MoveNextAsync();
                shown = more ? redactor.Add(pieces.Current) : redactor.End();
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                logger.LogError(ex, "The tutor failed for user {UserId} on {Lab} after {Length} characters", userId, lab.Slug, redactor.Text.Length);
                break;
            }

            if (shown.Length > 0)
            {
                yield return Event("delta", new { text = shown });
            }

            if (!more)
            {
                yield return Event("done", new TutorAnswerView(redactor.Text));
                yield break;
            }
        }

        yield return Event("error", new { message = TutorFailed });
    }

    private static SseItem<string> Event(string type, object data) => new(JsonSerializer.Serialize(data, ApiResult.Json), type);

    /// <summary>The body's one text field, trimmed; a 400 unless it has 1 to <see cref="MaxTextLength"/> characters.</summary>
    private static (string? Text, ApiResult? Error) Text(string? field, string name)
    {
        var text = field?.Trim();
        return string.IsNullOrEmpty(text) || text.Length > MaxTextLength
            ? (null, ApiResult.BadRequest($"{name} must be 1 to {MaxTextLength} characters"))
            : (text, null);
    }

    private async Task<(UserRef? User, Lab? Lab, ApiResult? Denied)> UserAndLabAsync(ApiRequest request, CancellationToken ct)
    {
        var user = request.Caller;
        if (await catalog.GetAsync(request.Id, ct) is not { } lab)
        {
            return (null, null, ApiResult.NotFound("Lab"));
        }

        // A learner's live instance runs the version it started with: its exercises, points and hints are that version's, even when
        // the lab changed or was deactivated since.
        var live = (await instances.ListByUserAsync(user.Id, ct)).FirstOrDefault(i => i.LabId == lab.Id && i.Status.IsActive());
        if (live is { LabVersion: > 0 } && live.LabVersion != lab.Version)
        {
            lab = await catalog.GetAsync(lab.Id, live.LabVersion, ct) ?? lab;
        }

        return lab.IsActive || live is not null ? (user, lab, null) : (null, null, ApiResult.NotFound("Lab"));
    }

    private async Task<(UserRef? User, Lab? Lab, Exercise? Exercise, ApiResult? Denied)> UserLabAndExerciseAsync(ApiRequest request, CancellationToken ct)
    {
        var (user, lab, denied) = await UserAndLabAsync(request, ct);
        if (denied is not null)
        {
            return (null, null, null, denied);
        }

        var exerciseId = request.Route.GetValueOrDefault("exerciseId");
        return lab!.Exercises.FirstOrDefault(e => e.Id == exerciseId) is { } exercise
            ? (user, lab, exercise, null)
            : (null, null, null, ApiResult.NotFound("Exercise"));
    }
}
