using System.Text.Json.Nodes;
using System.Text.Json;
using LabManager.Core.Labs;

namespace LabManager.Infrastructure.Postgres;

/// <summary>
/// The lab catalog file (<c>catalog/labs.json</c>): a JSON array of labs, validated before loading. A lab that names no
/// <c>region</c> or <c>plan</c> gets the deployment's (Vultr:DefaultRegion, Vultr:DefaultPlan); one that names no <c>image</c> boots the
/// deployment's default image (Vultr:DefaultImage).
/// </summary>
public static class LabCatalogFile
{
    public static IReadOnlyList<Lab> Read(string path, string defaultRegion = "ewr", string defaultPlan = "vc2-1c-1gb")
    {
        List<Lab> labs;
        try
        {
            var array = JsonNode.Parse(File.ReadAllText(path)) as JsonArray ?? throw new JsonException("the file must hold a JSON array of labs");
            foreach (var lab in array.OfType<JsonObject>())
            {
                lab["region"] ??= defaultRegion;
                lab["plan"] ??= defaultPlan;
            }

            labs = array.Deserialize<List<Lab>>(DbJson.Options) ?? [];
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Lab catalog {path} is not valid: {ex.Message}", ex);
        }

        var errors = labs.SelectMany(l => l.ContainerConfig.Validate().Select(e => $"{l.Slug}: {e}"))
            .Concat(labs.Where(l => string.IsNullOrWhiteSpace(l.Slug)).Select(l => $"lab {l.Id} has no slug"))
            .Concat(labs.GroupBy(l => l.Slug).Where(g => g.Count() > 1).Select(g => $"slug {g.Key} is used twice"))
            .Concat(labs.Where(l => l.Image is { IsValid: false }).Select(l => $"{l.Slug}: image must name exactly one of osId, imageId or snapshotId"))
            .Concat(labs.SelectMany(l => (l.Pool?.Problems(int.MaxValue) ?? []).Select(p => $"{l.Slug}: pool {p}")))
            .Concat(labs.SelectMany(l => l.Exercises.Where(e => e.Check is { } c && !IsValid(c)).Select(e =>
                $"{l.Slug}/{e.Id}: a check needs one of flagSha256 (64 hex digits), dynamicFlag (an environment variable name) or a checker with arguments")))
            .Concat(labs.SelectMany(l => l.Exercises.Where(e => e.Check?.DynamicFlag is { } v && l.ContainerConfig.Containers.Any(c => c.Environment.ContainsKey(v)))
                .Select(e => $"{l.Slug}/{e.Id}: dynamicFlag {e.Check!.DynamicFlag} is already a container's environment variable")))
            .ToList();
        return errors.Count == 0 ? labs : throw new InvalidDataException($"Lab catalog {path} is not valid: {string.Join("; ", errors)}");
    }

    private static bool IsValid(AnswerCheck check) => check switch
    {
        { FlagSha256: { } hash } => check is { Checker: null, DynamicFlag: null } && hash.Length == 64 && hash.All(char.IsAsciiHexDigitLower),
        { DynamicFlag: { } name } => check.Checker is null && ContainerConfig.IsEnvironmentName(name),
        _ => !string.IsNullOrEmpty(check.Checker) && check.Arguments.Count > 0,
    };
}
