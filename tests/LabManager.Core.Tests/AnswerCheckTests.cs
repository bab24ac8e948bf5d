using LabManager.Core.Labs;
using LabManager.Core.Ports;

namespace LabManager.Core.Tests;

public sealed class AnswerCheckTests
{
    private const string Flag = "LM{cbc-padding-oracle-2026}";

    private static readonly Lab Lab = new()
    {
        Id = Guid.NewGuid(),
        Name = "DVWA SQL injection",
        ContainerConfig = new ContainerConfig { Containers = [] },
        Description = "Exploit SQL injection.",
        LearningObjectives = ["Use UNION-based extraction"],
        Exercises =
        [
            new Exercise
            {
                Id = "dump",
                Title = "Dump the users",
                Description = "Submit the admin hash.",
                Points = 70,
                Hints = [new Hint("h1", "Count the columns first.", 10), new Hint("h2", "The table is users.", 20)],
                Check = new AnswerCheck { FlagSha256 = Flags.Hash(Flag) },
            },
            new Exercise
            {
                Id = "detect",
                Title = "Detect it",
                Points = 30,
                Check = new AnswerCheck { Checker = "keywords", Arguments = ["SQL syntax", "MariaDB"] },
            },
        ],
    };

    [Theory]
    [InlineData(Flag, true)]
    [InlineData("  " + Flag + "\n", true)]
    [InlineData("LM{cbc-padding-oracle-2025}", false)]
    [InlineData("lm{cbc-padding-oracle-2026}", false)]
    public void Flag_ComparedByHash(string answer, bool right) =>
        Assert.Equal(right, Flags.IsRight(Lab.Exercises[0].Check!, answer, [new KeywordsChecker()]));

    [Theory]
    [InlineData("You have an error in your sql SYNTAX; check the manual of your MariaDB server", true)]
    [InlineData("You have an error in your SQL syntax", false)]
    public void Keywords_EveryOneRequired(string answer, bool right) =>
        Assert.Equal(right, Flags.IsRight(Lab.Exercises[1].Check!, answer, [new KeywordsChecker()]));

    [Fact]
    public void UnknownChecker_NeverAccepts() =>
        Assert.False(Flags.IsRight(new AnswerCheck { Checker = "regex", Arguments = [".*"] }, "anything", [new KeywordsChecker()]));

    [Fact]
    public void TutorPrompt_HasTheLabAndOnlyRevealedHints_NeverAnAnswerCheck()
    {
        var progress = new LabProgress(Lab.Id, Lab.Name, [],
            [new ExerciseProgress("dump", "Dump the users", 70, false, 0, 4, [new RevealedHint("h2", "The table is users.", 20)])], 0);
        var memory = new LearnerMemory(["Juice Shop (1 session(s), last stopped, 1 exercise(s) solved)"], [], ["XSS (3 wrong answers)"], 1, 50, null);

        var prompt = TutorPrompt.Build(Lab, progress, memory);

        Assert.Contains("Exploit SQL injection.", prompt, StringComparison.Ordinal);
        Assert.Contains("Use UNION-based extraction", prompt, StringComparison.Ordinal);
        Assert.Contains("- Dump the users [not solved, 4 attempt(s)]: Submit the admin hash.", prompt, StringComparison.Ordinal);
        Assert.Contains("The table is users.", prompt, StringComparison.Ordinal);
        Assert.Contains("XSS (3 wrong answers)", prompt, StringComparison.Ordinal);
        Assert.DoesNotContain("Count the columns first.", prompt, StringComparison.Ordinal);
        Assert.DoesNotContain(Flags.Hash(Flag), prompt, StringComparison.Ordinal);
        Assert.DoesNotContain("MariaDB", prompt, StringComparison.Ordinal);
    }

    [Fact]
    public void RedactFlags_ReplacesTheFlagWherePunctuationFollows() =>
        Assert.Equal("It is [redacted]. Or ([redacted]), not LM{other}.",
            TutorPrompt.RedactFlags($"It is {Flag}. Or ({Flag}), not LM{{other}}.", Lab));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    public void FlagRedactor_NeverLetsOutAPieceOfAFlag_AndEndsAsTheWholeAnswerRedacted(int size)
    {
        var answer = $"It is {Flag}. Or ({Flag}), not LM{{other}}. Done";
        var redactor = new FlagRedactor(Lab);
        var shown = new List<string>();

        for (var i = 0; i < answer.Length; i += size)
        {
            shown.Add(redactor.Add(answer.Substring(i, Math.Min(size, answer.Length - i))));
            // At no moment does what was let through hold a piece of the flag.
            Assert.DoesNotContain("LM{cbc", redactor.Text, StringComparison.Ordinal);
            Assert.DoesNotContain("oracle", redactor.Text, StringComparison.Ordinal);
        }

        shown.Add(redactor.End());

        Assert.Equal(TutorPrompt.RedactFlags(answer, Lab), string.Concat(shown));
        Assert.Equal(string.Concat(shown), redactor.Text);
        Assert.Equal("It is [redacted]. Or ([redacted]), not LM{other}. Done", redactor.Text);
        Assert.True(shown.Count(s => s.Length > 0) > 3, "the text is let through as it comes, not only at the end");
    }
}
