using LabManager.Core.Labs;
using LabManager.Core.Ports;
using LabManager.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LabManager.Infrastructure.Tests;

/// <summary>Sessions, submissions, points, hints, learner memory and the tutor quota in a real PostgreSQL database.</summary>
public sealed class LearningProgressTests : IAsyncLifetime
{
    private const string DvwaAdminHash = "5f4dcc3b5aa765d61d8327deb882cf99";
    private PostgresServices _postgres = null!;
    private Lab _dvwa = null!;

    private TestDatabase Db => _postgres.Db;
    private ILearningProgress Progress => _postgres.Services.GetRequiredService<ILearningProgress>();
    private ILearningTracker Tracker => _postgres.Services.GetRequiredService<ILearningTracker>();
    private Exercise Dump => _dvwa.Exercises.Single(e => e.Id == "sqli-dump");

    public async Task InitializeAsync()
    {
        _postgres = await PostgresServices.StartAsync();
        _dvwa = (await _postgres.Services.GetRequiredService<ILabCatalog>().ListAsync()).Single(l => l.Slug == "dvwa-sql-injection");
    }

    public async Task DisposeAsync() => await _postgres.DisposeAsync();

    private async Task<Guid> UserAsync()
    {
        var id = Guid.NewGuid();
        await Db.ScalarAsync<int>($"INSERT INTO users (id) VALUES ('{id}'); SELECT 1");
        return id;
    }

    private Task<SubmissionOutcome> SubmitAsync(Guid user, string answer, int max = 100) =>
        Progress.SubmitAsync(user, _dvwa, Dump, Flags.IsRight(Dump.Check!, answer, []), DateTimeOffset.UtcNow, max, TimeSpan.FromMinutes(1));

    [Fact]
    public async Task Session_RecordedOnce_EvenWhenStartAndEndAreRecordedTwice()
    {
        var user = await UserAsync();
        var instance = Guid.NewGuid();
        var started = DateTimeOffset.UtcNow.AddMinutes(-30);
        var ended = started.AddMinutes(25);
        var summary = new LabSessionSummary(user, _dvwa.Id, instance, "stopped", started, ended, TimeSpan.FromMinutes(27), 0.0074m);
        for (var i = 0; i < 2; i++)
        {
            await Tracker.LabStartedAsync(user, _dvwa.Id, instance, started);
        }

        for (var i = 0; i < 2; i++)
        {
            await Tracker.LabEndedAsync(summary);
        }

        var session = Assert.Single((await Progress.GetLabProgressAsync(user, _dvwa)).Sessions);
        Assert.Equal((instance, "stopped", 25 * 60L, 0.0074m), (session.InstanceId, session.Outcome, session.DurationSeconds, session.Cost));
        Assert.Equal(started, session.StartedAt!.Value, TimeSpan.FromMilliseconds(1));
        var lab = Assert.Single((await Progress.GetUserProgressAsync(user)).Labs);
        Assert.Equal((1, 25 * 60L, 0.0074m, "stopped"), (lab.Sessions, lab.TotalSeconds, lab.TotalCost, lab.LastOutcome));
        Assert.Contains(_dvwa.Name, Assert.Single((await Progress.GetMemoryAsync(user)).LabsDone), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HintCost_DeductedOnce_RightAnswerAwardsTheRest_OnlyOnce()
    {
        var user = await UserAsync();
        var hint = Dump.Hints[0];
        var first = await Progress.RevealHintAsync(user, _dvwa, Dump, hint, DateTimeOffset.UtcNow);
        var again = await Progress.RevealHintAsync(user, _dvwa, Dump, hint, DateTimeOffset.UtcNow);
        Assert.False(first.AlreadyRevealed);
        Assert.True(again.AlreadyRevealed);
        Assert.Equal(hint.Text, again.Text);

        var wrong = Assert.IsType<SubmissionOutcome.Recorded>(await SubmitAsync(user, "admin"));
        var right = Assert.IsType<SubmissionOutcome.Recorded>(await SubmitAsync(user, " " + DvwaAdminHash + "\n"));
        var twice = Assert.IsType<SubmissionOutcome.Recorded>(await SubmitAsync(user, DvwaAdminHash));

        Assert.Equal((false, 0), (wrong.Correct, wrong.PointsAwarded));
        Assert.Equal((true, false, Dump.Points - hint.Cost, Dump.Points - hint.Cost), (right.Correct, right.AlreadyCompleted, right.PointsAwarded, right.TotalPoints));
        Assert.Equal((true, true, 0, Dump.Points - hint.Cost), (twice.Correct, twice.AlreadyCompleted, twice.PointsAwarded, twice.TotalPoints));
        var progress = await Progress.GetLabProgressAsync(user, _dvwa);
        var exercise = progress.Exercises.Single(e => e.ExerciseId == Dump.Id);
        Assert.Equal((true, Dump.Points - hint.Cost, 3), (exercise.Completed, exercise.PointsAwarded, exercise.Attempts));
        Assert.Equal(hint.Id, Assert.Single(exercise.HintsRevealed).HintId);
        Assert.Equal(Dump.Points - hint.Cost, progress.Points);
        Assert.Equal(Dump.Points - hint.Cost, (await Progress.GetUserProgressAsync(user)).TotalPoints);
        Assert.Equal(Dump.Points - hint.Cost, await Db.ScalarAsync<int>($"SELECT points FROM user_progress WHERE user_id = '{user}'"));
    }

    [Fact]
    public async Task Submissions_OverTheLimit_RateLimitedAndNotRecorded()
    {
        var user = await UserAsync();
        for (var i = 0; i < 3; i++)
        {
            Assert.IsType<SubmissionOutcome.Recorded>(await SubmitAsync(user, "guess " + i, max: 3));
        }

        var limited = Assert.IsType<SubmissionOutcome.RateLimited>(await SubmitAsync(user, DvwaAdminHash, max: 3));
        Assert.InRange(limited.RetryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
        Assert.Equal(3L, await Db.ScalarAsync<long>($"SELECT count(*) FROM exercise_submissions WHERE user_id = '{user}'"));
        Assert.False((await Progress.GetLabProgressAsync(user, _dvwa)).Exercises.Single(e => e.ExerciseId == Dump.Id).Completed);
    }

    [Fact]
    public async Task Memory_FollowsStrengthsStuckPointsAndHints()
    {
        var user = await UserAsync();
        var detect = _dvwa.Exercises.Single(e => e.Id == "sqli-detect");
        await Progress.SubmitAsync(user, _dvwa, detect, correct: true, DateTimeOffset.UtcNow, 100, TimeSpan.FromMinutes(1));
        await SubmitAsync(user, "wrong 1");
        await SubmitAsync(user, "wrong 2");
        await Progress.RevealHintAsync(user, _dvwa, Dump, Dump.Hints[0], DateTimeOffset.UtcNow);

        var memory = await Progress.GetMemoryAsync(user);

        Assert.Equal($"{_dvwa.Name}: {detect.Title} (no hints)", Assert.Single(memory.Strengths));
        Assert.Equal($"{_dvwa.Name}: {Dump.Title} (2 wrong answers)", Assert.Single(memory.StuckOn));
        Assert.Equal((1, detect.Points), (memory.HintsUsed, memory.TotalPoints));
        Assert.NotNull(memory.UpdatedAt);
    }

    [Fact]
    public async Task TutorQuota_CountsPerUserAndDay()
    {
        var user = await UserAsync();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        Assert.True(await Progress.TryUseTutorAsync(user, today, 2));
        Assert.True(await Progress.TryUseTutorAsync(user, today, 2));
        Assert.False(await Progress.TryUseTutorAsync(user, today, 2));
        Assert.True(await Progress.TryUseTutorAsync(user, today.AddDays(1), 2));
        Assert.True(await Progress.TryUseTutorAsync(Guid.NewGuid(), today, 2));
        Assert.False(await Progress.TryUseTutorAsync(user, today, 0));
    }
}
