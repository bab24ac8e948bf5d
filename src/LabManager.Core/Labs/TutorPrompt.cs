using System.Text;
using LabManager.Core.Ports;

namespace LabManager.Core.Labs;

/// <summary>
/// The tutor's system prompt: the lab (description, objectives, prerequisites, exercises), the learner's progress on it and their
/// memory. Answer checks are never part of it: flags exist only as hashes, and checker arguments are left out; hint texts
/// appear only once the learner revealed them (and paid for them).
/// </summary>
public static class TutorPrompt
{
    public static string Build(Lab lab, LabProgress progress, LearnerMemory memory)
    {
        var text = new StringBuilder();
        text.AppendLine("You are the tutor of a hands-on security training lab. Guide the learner with questions, concepts and next steps.")
            .AppendLine("Never give a flag, a final answer or a complete exploit; if asked for one, explain how to get there instead.")
            .AppendLine("Stay within this lab's subject and keep answers short.")
            .AppendLine()
            .AppendLine($"Lab: {lab.Name} ({lab.Category}, {lab.Difficulty.ToString().ToLowerInvariant()})")
            .AppendLine($"Description: {lab.Description}");
        AppendList(text, "Learning objectives", lab.LearningObjectives);
        AppendList(text, "Prerequisites", lab.Prerequisites);
        text.AppendLine("Exercises:");
        foreach (var exercise in lab.Exercises)
        {
            var state = progress.Exercises.FirstOrDefault(e => e.ExerciseId == exercise.Id);
            var status = state is null ? "not started" : state.Completed ? "solved" : $"not solved, {state.Attempts} attempt(s)";
            text.AppendLine($"- {exercise.Title} [{status}]: {exercise.Description}");
            foreach (var hint in state?.HintsRevealed ?? [])
            {
                text.AppendLine($"  hint the learner already revealed: {hint.Text}");
            }
        }

        text.AppendLine($"Points in this lab: {progress.Points}; sessions: {progress.Sessions.Count}.")
            .AppendLine()
            .AppendLine("What is known about this learner:");
        AppendList(text, "Labs done", memory.LabsDone);
        AppendList(text, "Strengths", memory.Strengths);
        AppendList(text, "Got stuck on", memory.StuckOn);
        text.AppendLine($"Hints used overall: {memory.HintsUsed}; total points: {memory.TotalPoints}.");
        return text.ToString();
    }

    /// <summary>Replaces every word of <paramref name="answer"/> that is one of the lab's flags (by hash) with [redacted].</summary>
    public static string RedactFlags(string answer, Lab lab)
    {
        var hashes = lab.Exercises.Select(e => e.Check?.FlagSha256).OfType<string>().ToList();
        if (hashes.Count == 0)
        {
            return answer;
        }

        return Word.Replace(answer, m => hashes.Any(h => Flags.Matches(m.Value, h)) ? "[redacted]" : m.Value);
    }

    /// <summary>Besides white space, the characters that end a word for <see cref="RedactFlags"/>.</summary>
    private const string WordEnds = "`'\"<>()[]";

    /// <summary>A word, without the punctuation that may follow it in a sentence.</summary>
    private static readonly System.Text.RegularExpressions.Regex Word = new(
        $@"[^\s{Escaped}]+?(?=[.,;:!?]*(?:[\s{Escaped}]|$))", System.Text.RegularExpressions.RegexOptions.Compiled);

    private static string Escaped => string.Concat(WordEnds.Select(c => $"\\{c}"));

    /// <summary>Whether <paramref name="c"/> ends a word for <see cref="RedactFlags"/>: text cut just after one redacts as the whole would.</summary>
    internal static bool EndsWord(char c) => char.IsWhiteSpace(c) || WordEnds.Contains(c);

    private static void AppendList(StringBuilder text, string title, IReadOnlyList<string> items) =>
        text.AppendLine($"{title}: {(items.Count == 0 ? "none yet" : string.Join("; ", items))}");
}

/// <summary>
/// Redacts an answer that arrives in pieces: text is let through only up to the last character that ends a word, so a flag split
/// over two pieces is held back until it is whole and then redacted; it is never shown, even in part. <see cref="Text"/> is what
/// was let through, the same as <see cref="TutorPrompt.RedactFlags"/> of the whole answer.
/// </summary>
public sealed class FlagRedactor(Lab lab)
{
    private readonly StringBuilder _held = new();
    private readonly StringBuilder _shown = new();

    public string Text => _shown.ToString();

    /// <summary>Takes the next piece; returns what may be shown now (often empty mid-word).</summary>
    public string Add(string piece)
    {
        _held.Append(piece);
        var end = _held.Length - 1;
        while (end >= 0 && !TutorPrompt.EndsWord(_held[end]))
        {
            end--;
        }

        return end < 0 ? "" : Release(end + 1);
    }

    /// <summary>The answer is complete: returns the rest.</summary>
    public string End() => Release(_held.Length);

    private string Release(int length)
    {
        var text = TutorPrompt.RedactFlags(_held.ToString(0, length), lab);
        _held.Remove(0, length);
        _shown.Append(text);
        return text;
    }
}
