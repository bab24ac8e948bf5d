using System.Text.RegularExpressions;
using LabManager.Core.Ports;

namespace LabManager.Core.Labs;

/// <summary>
/// Every rule a lab definition must meet, the same wherever it comes from (the API, the catalog file, start-up). Each problem reads
/// "field path: what is wrong", the path in the definition's JSON (<c>containerConfig.containers[0].image</c>).
/// </summary>
public static partial class LabValidator
{
    /// <summary>What a lab's VM keeps for its system and Docker, beyond its containers' memory.</summary>
    public const int SystemMemoryMb = 256;

    /// <summary>The most processes a VM's containers may hold together (the kernel's default pid_max).</summary>
    public const int MaxTotalPids = 32768;

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,62}$")]
    private static partial Regex SlugPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex IdPattern();

    /// <param name="lab">The definition, as read.</param>
    /// <param name="offer">The cloud's plans and regions; null when they could not be had (plan and region are then not checked).</param>
    /// <param name="maxGlobalInstances">The deployment's global quota, the most a pool may hold.</param>
    public static IReadOnlyList<string> Problems(Lab lab, CloudOffer? offer, int maxGlobalInstances)
    {
        var problems = new List<string>();
        void Check(bool ok, string problem)
        {
            if (!ok)
            {
                problems.Add(problem);
            }
        }

        Check(lab.Id != Guid.Empty, "id: must be a UUID other than all zeros");
        Check(SlugPattern().IsMatch(lab.Slug), $"slug: '{lab.Slug}' must be 2 to 63 lower-case letters, digits and dashes, starting with a letter or digit");
        Check(lab.Name.Trim().Length is >= 1 and <= 120, "name: must be 1 to 120 characters");
        Check(lab.Description.Length <= 8000, "description: must be at most 8000 characters");
        Check(lab.Category.Trim().Length is >= 1 and <= 40, "category: must be 1 to 40 characters");
        Check(Enum.IsDefined(lab.Difficulty), "difficulty: must be beginner, intermediate, advanced or expert");
        Check(lab.EstimatedTimeMinutes is >= 1 and <= 1440, "estimatedTimeMinutes: must be 1..1440");
        Check(lab.Points is >= 0 and <= 100_000, "points: must be 0..100000");
        Check(lab.TimeoutMinutes is >= 5 and <= 1440, "timeoutMinutes: must be 5..1440");
        Check(lab.IdleTimeoutMinutes is null or (>= 0 and <= 1440), "idleTimeoutMinutes: must be 0..1440 (0: never), or left out for the deployment's");
        Check(lab.MaxInstancesPerUser is >= 1 and <= 10, "maxInstancesPerUser: must be 1..10");
        Check(lab.Tags.Count <= 20, "tags: at most 20");
        for (var i = 0; i < lab.Tags.Count; i++)
        {
            Check(lab.Tags[i].Trim().Length is >= 1 and <= 40, $"tags[{i}]: must be 1 to 40 characters");
        }

        Check(lab.Image is not { IsValid: false }, "image: must name exactly one of osId, imageId or snapshotId");
        // Each pool problem starts with its field: "min must be 0 or more".
        problems.AddRange((lab.Pool?.Problems(maxGlobalInstances) ?? []).Select(p => $"pool.{p[..p.IndexOf(' ', StringComparison.Ordinal)]}:{p[p.IndexOf(' ', StringComparison.Ordinal)..]}"));
        problems.AddRange(lab.ContainerConfig.Validate().Select(e => $"containerConfig.{e}"));
        problems.AddRange(lab.ContainerConfig.Containers.SelectMany((c, i) => c.CatalogProblems().Select(e => $"containerConfig.containers[{i}].{e}")));
        problems.AddRange(PlanProblems(lab, offer));
        problems.AddRange(ExerciseProblems(lab));
        return problems;
    }

    private static IEnumerable<string> PlanProblems(Lab lab, CloudOffer? offer)
    {
        var containers = lab.ContainerConfig.Containers;
        var pids = containers.Sum(c => c.PidsLimit);
        if (pids > MaxTotalPids)
        {
            yield return $"containerConfig.containers: pidsLimit adds up to {pids}, more than {MaxTotalPids}";
        }

        if (offer is null)
        {
            yield break;
        }

        if (!offer.Regions.Contains(lab.Region))
        {
            yield return $"region: '{lab.Region}' is not a region of the cloud; known: {string.Join(", ", offer.Regions)}";
        }

        if (offer.Plans.FirstOrDefault(p => p.Id == lab.Plan) is not { } plan)
        {
            yield return $"plan: '{lab.Plan}' is not a plan of the cloud; known: {string.Join(", ", offer.Plans.Select(p => p.Id))}";
            yield break;
        }

        if (offer.Regions.Contains(lab.Region) && !plan.Locations.Contains(lab.Region))
        {
            yield return $"plan: '{plan.Id}' is not sold in region '{lab.Region}'";
        }

        var memory = containers.Sum(c => c.MemoryMb);
        if (memory > plan.RamMb - SystemMemoryMb)
        {
            yield return $"containerConfig.containers: memoryMb adds up to {memory} MB; plan {plan.Id} has {plan.RamMb} MB, of which {SystemMemoryMb} MB is kept for the system";
        }

        for (var i = 0; i < containers.Count; i++)
        {
            if (containers[i].Cpus > plan.VcpuCount)
            {
                yield return $"containerConfig.containers[{i}].cpus: {containers[i].Cpus} is more than the {plan.VcpuCount} vCPUs of plan {plan.Id}";
            }
        }
    }

    private static IEnumerable<string> ExerciseProblems(Lab lab)
    {
        var environment = lab.ContainerConfig.Containers.SelectMany(c => c.Environment.Keys).ToHashSet(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < lab.Exercises.Count; i++)
        {
            var e = lab.Exercises[i];
            var at = $"exercises[{i}]";
            if (!IdPattern().IsMatch(e.Id))
            {
                yield return $"{at}.id: '{e.Id}' must be 1 to 64 letters, digits, dots, dashes or underscores";
            }
            else if (!seen.Add(e.Id))
            {
                yield return $"{at}.id: '{e.Id}' is used twice";
            }

            if (e.Title.Trim().Length is < 1 or > 200)
            {
                yield return $"{at}.title: must be 1 to 200 characters";
            }

            if (e.Points is < 0 or > 100_000)
            {
                yield return $"{at}.points: must be 0..100000";
            }

            var hints = new HashSet<string>(StringComparer.Ordinal);
            for (var j = 0; j < e.Hints.Count; j++)
            {
                var h = e.Hints[j];
                if (!IdPattern().IsMatch(h.Id))
                {
                    yield return $"{at}.hints[{j}].id: '{h.Id}' must be 1 to 64 letters, digits, dots, dashes or underscores";
                }
                else if (!hints.Add(h.Id))
                {
                    yield return $"{at}.hints[{j}].id: '{h.Id}' is used twice in the exercise";
                }

                if (string.IsNullOrWhiteSpace(h.Text))
                {
                    yield return $"{at}.hints[{j}].text: is required";
                }

                if (h.Cost < 0 || h.Cost > e.Points)
                {
                    yield return $"{at}.hints[{j}].cost: {h.Cost} must be from 0 to the exercise's points ({e.Points})";
                }
            }

            if (e.Check is { } check)
            {
                if (!IsValid(check))
                {
                    yield return $"{at}.check: needs one of flagSha256 (64 lower-case hex digits), dynamicFlag (an environment variable name) or a checker with arguments";
                }
                else if (check.DynamicFlag is { } variable && environment.Contains(variable))
                {
                    yield return $"{at}.check.dynamicFlag: {variable} is already a container's environment variable";
                }
            }
        }
    }

    private static bool IsValid(AnswerCheck check) => check switch
    {
        { FlagSha256: { } hash } => check is { Checker: null, DynamicFlag: null } && hash.Length == 64 && hash.All(char.IsAsciiHexDigitLower),
        { DynamicFlag: { } name } => check.Checker is null && ContainerConfig.IsEnvironmentName(name),
        _ => !string.IsNullOrEmpty(check.Checker) && check.Arguments.Count > 0,
    };
}
