using System.Net;
using LabManager.Core.Instances;
using LabManager.Testing;
using static LabManager.Server.Tests.ServerFixture;

namespace LabManager.Server.Tests;

/// <summary>Progress, exercises and hints through the HTTP API, PostgreSQL and the workflow.</summary>
public sealed class ProgressTests(TutorServer server) : IClassFixture<TutorServer>
{
    private const string DvwaAdminHash = "5f4dcc3b5aa765d61d8327deb882cf99";
    private const string DumpPath = $"/api/labs/{DvwaLab}/exercises/sqli-dump";

    [Fact]
    public async Task LabSession_ShowsUpInMyProgress_WithItsOutcome()
    {
        var token = server.Token(Guid.NewGuid());
        var id = await server.StartRunningAsync(NetworkLab, token);
        await server.StopAndWaitAsync(id, token);

        // The session is recorded by the workflow's last activity, right after the status moves to stopped.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var (status, body, _) = await server.SendAsync(HttpMethod.Get, "/api/users/me/progress", token);
            Assert.Equal(HttpStatusCode.OK, status);
            var lab = body["data"]!["labs"]!.AsArray().SingleOrDefault();
            // The memory is rebuilt just after the session's totals are written.
            if (lab?["lastOutcome"]?.GetValue<string>() == "stopped" && body["data"]!["memory"]!["labsDone"]!.AsArray().Count > 0)
            {
                Assert.Equal(NetworkLab, lab["labId"]!.GetValue<string>());
                Assert.Equal(1, lab["sessions"]!.GetValue<int>());
                var session = (await server.SendAsync(HttpMethod.Get, $"/api/labs/{NetworkLab}/progress", token)).Body["data"]!["sessions"]![0]!;
                Assert.Equal(id, session["instanceId"]!.GetValue<string>());
                Assert.Equal("stopped", session["outcome"]!.GetValue<string>());
                Assert.Contains("network", body["data"]!["memory"]!["labsDone"]![0]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "the session never showed up: " + body.ToJsonString());
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task HintThenRightAnswer_PointsLessTheHintOnce_AndNoAnswerCheckIsEverShown()
    {
        var token = server.Token(Guid.NewGuid());
        // An answer comes from the learner's own lab: none is taken before they started it.
        var (early, refused, _) = await server.SendAsync(HttpMethod.Post, DumpPath + "/submit", token, $$"""{"answer": "{{DvwaAdminHash}}"}""");
        Assert.Equal((HttpStatusCode.Conflict, "Start the lab first: this exercise's answer comes from your own lab"), (early, refused["message"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.Created, (await server.StartAsync(DvwaLab, token)).Status);
        var (_, first, _) = await server.SendAsync(HttpMethod.Post, DumpPath + "/hints/h1", token);
        var (_, again, _) = await server.SendAsync(HttpMethod.Post, DumpPath + "/hints/h1", token);
        Assert.Equal("Find the number of columns with ORDER BY first.", first["data"]!["text"]!.GetValue<string>());
        Assert.Equal((false, true), (first["data"]!["alreadyRevealed"]!.GetValue<bool>(), again["data"]!["alreadyRevealed"]!.GetValue<bool>()));

        var (_, wrong, _) = await server.SendAsync(HttpMethod.Post, DumpPath + "/submit", token, """{"answer": "admin:admin"}""");
        var (rightStatus, right, _) = await server.SendAsync(HttpMethod.Post, DumpPath + "/submit", token, $$"""{"answer": "{{DvwaAdminHash}}"}""");

        Assert.False(wrong["data"]!["correct"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.OK, rightStatus);
        Assert.Equal("Right! 60 points", right["message"]!.GetValue<string>());
        Assert.Equal(60, right["data"]!["totalPoints"]!.GetValue<int>());
        var progress = (await server.SendAsync(HttpMethod.Get, $"/api/labs/{DvwaLab}/progress", token)).Body["data"]!;
        Assert.Equal(60, progress["points"]!.GetValue<int>());
        Assert.Equal(60, (await server.SendAsync(HttpMethod.Get, "/api/users/me/progress", token)).Body["data"]!["totalPoints"]!.GetValue<int>());

        var catalog = await server.Http.GetStringAsync("/api/labs");
        Assert.DoesNotContain("flagSha256", catalog, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("error in your SQL syntax", catalog, StringComparison.Ordinal);
        Assert.DoesNotContain("ORDER BY first", catalog, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/labs/" + DvwaLab + "/exercises/nope/submit", """{"answer": "x"}""", 404, "Exercise not found")]
    [InlineData("/api/labs/" + DvwaLab + "/exercises/sqli-dump/hints/h9", null, 404, "Hint not found")]
    [InlineData("/api/labs/" + CryptoLab + "/exercises/find-oracle/submit", """{"answer": "x"}""", 400, "This exercise has no answer to submit")]
    [InlineData("/api/labs/" + DvwaLab + "/exercises/sqli-dump/submit", """{"answer": "  "}""", 400, "answer must be 1 to 2000 characters")]
    [InlineData("/api/labs/" + DvwaLab + "/exercises/sqli-dump/submit", """{"flag": "x"}""", 400, "The request body has fields this route does not take")]
    [InlineData("/api/labs/" + DvwaLab + "/tutor", """{"question": ""}""", 400, "question must be 1 to 2000 characters")]
    [InlineData("/api/labs/not-a-lab/progress", null, 400, "The lab id must be a UUID")]
    public async Task BadInput_ClearError(string path, string? body, int expected, string message)
    {
        var method = path.EndsWith("/progress", StringComparison.Ordinal) ? HttpMethod.Get : HttpMethod.Post;
        var (status, json, _) = await server.SendAsync(method, path, server.Token(Guid.NewGuid()), body);
        Assert.Equal(expected, (int)status);
        Assert.Equal(message, json["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Submissions_BeyondTheLimit_429WithRetryAfter()
    {
        var token = server.Token(Guid.NewGuid());
        Assert.Equal(HttpStatusCode.Created, (await server.StartAsync(DvwaLab, token)).Status);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await server.SendAsync(HttpMethod.Post, DumpPath + "/submit", token, $$"""{"answer": "guess {{i}}"}""")).Status);
        }

        var (status, body, response) = await server.SendAsync(HttpMethod.Post, DumpPath + "/submit", token, $$"""{"answer": "{{DvwaAdminHash}}"}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.StartsWith("Too many answers: at most 3 per 60 s", body["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.InRange(int.Parse(response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture), 1, 60);
    }
}
