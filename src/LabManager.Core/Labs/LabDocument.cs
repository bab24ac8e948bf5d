using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LabManager.Core.Ports;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LabManager.Core.Labs;

/// <summary>The catalog file's formats.</summary>
public enum CatalogFormat
{
    Json,
    Yaml,
}

/// <summary>What a lab that names no region or plan gets (Vultr:DefaultRegion, Vultr:DefaultPlan).</summary>
public sealed record LabDefaults(string Region = "ewr", string Plan = "vc2-1c-1gb");

/// <summary>
/// Lab definitions as text: the catalog file (a JSON or YAML array of labs), a lab in a request body, and the definition a version
/// keeps. Reading never throws on bad input: it answers the problems, each "field path: what is wrong".
/// </summary>
public static class LabDocument
{
    /// <summary>How labs are written and read: camelCase, enums as lower-case strings, an unknown field refused.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    private static readonly JsonSerializerOptions Indented = new(Json) { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>The most nodes a YAML document may expand to (aliases included), so a small file cannot expand without bound.</summary>
    public const int MaxYamlNodes = 200_000;

    public static CatalogFormat FormatOf(string path) =>
        Path.GetExtension(path).ToLowerInvariant() is ".yaml" or ".yml" ? CatalogFormat.Yaml : CatalogFormat.Json;

    /// <summary>Parses JSON or YAML text into its JSON tree; a syntax error is the one problem.</summary>
    public static (JsonNode? Node, string? Problem) Parse(string text, CatalogFormat format)
    {
        try
        {
            if (format == CatalogFormat.Json)
            {
                return (JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip }), null);
            }

            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            var budget = MaxYamlNodes;
            return (stream.Documents.Count == 0 ? null : FromYaml(stream.Documents[0].RootNode, ref budget), null);
        }
        catch (JsonException ex)
        {
            return (null, $"$: not valid JSON ({ex.Message})");
        }
        catch (YamlException ex)
        {
            return (null, $"$: not valid YAML at line {ex.Start.Line}, column {ex.Start.Column} ({ex.Message})");
        }
    }

    /// <summary>Reads a catalog: an array of labs, each checked (with <see cref="LabValidator"/> by the caller); slugs and ids must be unique.</summary>
    public static (IReadOnlyList<Lab> Labs, IReadOnlyList<string> Problems) ReadCatalog(string text, CatalogFormat format, LabDefaults defaults)
    {
        var (node, problem) = Parse(text, format);
        if (problem is not null)
        {
            return ([], [problem]);
        }

        if (node is not JsonArray array)
        {
            return ([], ["$: the catalog must be an array of labs"]);
        }

        var labs = new List<Lab>();
        var problems = new List<string>();
        for (var i = 0; i < array.Count; i++)
        {
            var (lab, labProblems) = ReadLab(array[i], defaults);
            problems.AddRange(labProblems.Select(p => $"[{i}].{p}"));
            if (lab is null)
            {
                continue;
            }

            if (labs.Any(l => l.Slug == lab.Slug))
            {
                problems.Add($"[{i}].slug: '{lab.Slug}' is used twice");
            }

            if (labs.Any(l => l.Id == lab.Id))
            {
                problems.Add($"[{i}].id: {lab.Id} is used twice");
            }

            labs.Add(lab);
        }

        return (labs, problems);
    }

    /// <summary>
    /// Reads and checks a catalog file (<see cref="LabValidator"/>; plans and regions against <paramref name="offer"/> when it is known);
    /// throws naming every problem, so nothing of a wrong file is used.
    /// </summary>
    public static IReadOnlyList<Lab> ReadFile(string path, LabDefaults defaults, CloudOffer? offer = null)
    {
        var (labs, problems) = ReadCatalog(File.ReadAllText(path), FormatOf(path), defaults);
        var all = problems.Concat(labs.SelectMany((l, i) => LabValidator.Problems(l, offer, int.MaxValue).Select(p => $"[{i}].{p}"))).ToList();
        return all.Count == 0 ? labs : throw new InvalidDataException($"Lab catalog {path} is not valid, nothing of it was loaded: {string.Join("; ", all)}");
    }

    /// <summary>
    /// Reads one lab (a file's entry or a request's body). A lab that names no region or plan gets the defaults; <c>version</c> is the
    /// catalog's to set and is ignored.
    /// </summary>
    public static (Lab? Lab, IReadOnlyList<string> Problems) ReadLab(JsonNode? node, LabDefaults defaults)
    {
        if (node is not JsonObject source)
        {
            return (null, ["$: a lab must be an object"]);
        }

        var lab = (JsonObject)source.DeepClone();
        lab.Remove("version");
        lab["region"] ??= defaults.Region;
        lab["plan"] ??= defaults.Plan;
        try
        {
            return (lab.Deserialize<Lab>(Json), []);
        }
        catch (JsonException ex)
        {
            return (null, [Problem(ex)]);
        }
    }

    /// <summary>A deserializer's complaint in the definition's words: the field's path, never our type names.</summary>
    private static string Problem(JsonException ex)
    {
        var path = ex.Path is { Length: > 2 } p ? p[2..] : "$";
        var message = ex.Message;
        if (message.Contains("could not be mapped", StringComparison.Ordinal))
        {
            return $"{path}: unknown field";
        }

        if (message.IndexOf("including: ", StringComparison.Ordinal) is var including and >= 0)
        {
            return $"{path}: is missing {message[(including + "including: ".Length)..].TrimEnd('.')}";
        }

        return $"{path}: has the wrong type or value";
    }

    /// <summary>A lab as the catalog file holds it: everything but its version.</summary>
    public static JsonObject ToJson(Lab lab)
    {
        var node = JsonSerializer.SerializeToNode(lab, Json)!.AsObject();
        node.Remove("version");
        return node;
    }

    /// <summary>What a version keeps: the definition, without whether the lab is active or its pool (operators' settings, not versioned).</summary>
    public static JsonObject Definition(Lab lab)
    {
        var node = ToJson(lab);
        node.Remove("isActive");
        node.Remove("pool");
        return node;
    }

    /// <summary>The catalog as a file of <paramref name="format"/>.</summary>
    public static string Write(IEnumerable<Lab> labs, CatalogFormat format)
    {
        var array = new JsonArray([.. labs.Select(l => (JsonNode)ToJson(l))]);
        if (format == CatalogFormat.Json)
        {
            return array.ToJsonString(Indented) + "\n";
        }

        var writer = new StringWriter(CultureInfo.InvariantCulture);
        new YamlStream(new YamlDocument(ToYaml(array))).Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    /// <summary>The field paths that differ between two definitions (at most 50), e.g. <c>exercises[0].points</c>.</summary>
    public static IReadOnlyList<string> Changes(JsonNode? before, JsonNode? after)
    {
        var changes = new List<string>();
        Diff(before, after, "", changes);
        return changes.Count > 50 ? [.. changes.Take(50), $"… and {changes.Count - 50} more"] : changes;
    }

    private static void Diff(JsonNode? before, JsonNode? after, string path, List<string> changes)
    {
        switch (before, after)
        {
            case (JsonObject a, JsonObject b):
                foreach (var key in a.Select(p => p.Key).Union(b.Select(p => p.Key)).Order(StringComparer.Ordinal))
                {
                    Diff(a[key], b[key], path.Length == 0 ? key : $"{path}.{key}", changes);
                }

                break;
            case (JsonArray a, JsonArray b) when a.Count == b.Count:
                for (var i = 0; i < a.Count; i++)
                {
                    Diff(a[i], b[i], $"{path}[{i}]", changes);
                }

                break;
            default:
                if (!JsonNode.DeepEquals(before, after))
                {
                    changes.Add(path.Length == 0 ? "$" : path);
                }

                break;
        }
    }

    private static JsonNode? FromYaml(YamlNode node, ref int budget)
    {
        if (--budget < 0)
        {
            throw new YamlException($"the document expands to more than {MaxYamlNodes} nodes");
        }

        switch (node)
        {
            case YamlMappingNode map:
                var obj = new JsonObject();
                foreach (var (key, value) in map.Children)
                {
                    var name = (key as YamlScalarNode)?.Value ?? throw new YamlException(key.Start, key.End, "a key must be a plain value");
                    if (obj.ContainsKey(name))
                    {
                        throw new YamlException(key.Start, key.End, $"the key '{name}' is used twice");
                    }

                    obj[name] = FromYaml(value, ref budget);
                }

                return obj;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                foreach (var item in sequence.Children)
                {
                    array.Add(FromYaml(item, ref budget));
                }

                return array;
            default:
                var scalar = (YamlScalarNode)node;
                return scalar.Style == ScalarStyle.Plain && scalar.Tag.IsEmpty ? PlainScalar(scalar.Value ?? "") : JsonValue.Create(scalar.Value ?? "");
        }
    }

    /// <summary>A plain (unquoted) YAML scalar by YAML 1.2's core schema: null, a boolean, a number, or else a string.</summary>
    private static JsonValue? PlainScalar(string value) => value switch
    {
        "" or "~" or "null" or "Null" or "NULL" => null,
        "true" or "True" or "TRUE" => JsonValue.Create(true),
        "false" or "False" or "FALSE" => JsonValue.Create(false),
        _ when long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole) => JsonValue.Create(whole),
        _ when value.Any(char.IsAsciiDigit) && double.TryParse(value, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
            CultureInfo.InvariantCulture, out var real) => JsonValue.Create(real),
        _ => JsonValue.Create(value),
    };

    private static YamlNode ToYaml(JsonNode? node) => node switch
    {
        JsonObject obj => new YamlMappingNode(obj.Select(p => new KeyValuePair<YamlNode, YamlNode>(new YamlScalarNode(p.Key), ToYaml(p.Value)))),
        JsonArray array => new YamlSequenceNode(array.Select(ToYaml)),
        null => new YamlScalarNode("null") { Style = ScalarStyle.Plain },
        JsonValue value when value.GetValueKind() == JsonValueKind.String => Quoted(value.GetValue<string>()),
        _ => new YamlScalarNode(node.ToJsonString()) { Style = ScalarStyle.Plain },
    };

    /// <summary>A string, quoted when unquoted it would read as something else (here or in a YAML 1.1 reader: yes, on …).</summary>
    private static YamlScalarNode Quoted(string value) =>
        PlainScalar(value) is { } v && v.GetValueKind() == JsonValueKind.String
            && value.ToLowerInvariant() is not ("yes" or "no" or "on" or "off" or "y" or "n")
            ? new YamlScalarNode(value)
            : new YamlScalarNode(value) { Style = ScalarStyle.DoubleQuoted };
}
