using System.Security.Cryptography;
using System.Text;

namespace LabManager.Core.Labs;

/// <summary>Validates a free answer against an exercise's check arguments.</summary>
public interface IAnswerChecker
{
    /// <summary>The name catalogs use in <see cref="AnswerCheck.Checker"/>.</summary>
    string Name { get; }

    bool Accepts(string answer, IReadOnlyList<string> arguments);
}

/// <summary><c>keywords</c>: the answer contains every argument, ignoring case.</summary>
public sealed class KeywordsChecker : IAnswerChecker
{
    public string Name => "keywords";

    public bool Accepts(string answer, IReadOnlyList<string> arguments) =>
        arguments.Count > 0 && arguments.All(k => answer.Contains(k, StringComparison.OrdinalIgnoreCase));
}

/// <summary>Flags are kept as SHA-256 hashes and compared in constant time.</summary>
public static class Flags
{
    /// <summary>Lower-case hex SHA-256 of the trimmed flag.</summary>
    public static string Hash(string flag) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(flag.Trim())));

    public static bool Matches(string answer, string flagSha256)
    {
        var expected = Convert.FromHexString(flagSha256);
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(answer.Trim())), expected);
    }

    /// <summary>
    /// The flag of one instance's exercise: an HMAC of both ids under a secret of the deployment's, labelled apart from anything else made
    /// from that secret, so it is the same at each of the instance's VMs (a reset keeps it), and only its hash needs storing.
    /// </summary>
    public static string Dynamic(string secret, Guid instanceId, string exerciseId) =>
        "FLAG{" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"flag:{instanceId:D}:{exerciseId}")))[..32] + "}";

    /// <summary>Checks <paramref name="answer"/> against a static <paramref name="check"/>; false when no checker of that name exists.</summary>
    public static bool IsRight(AnswerCheck check, string answer, IEnumerable<IAnswerChecker> checkers) =>
        check.FlagSha256 is { } hash
            ? Matches(answer, hash)
            : checkers.FirstOrDefault(c => c.Name == check.Checker) is { } checker && checker.Accepts(answer, check.Arguments);
}
