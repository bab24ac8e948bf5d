using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using LabManager.Core.Ports;

namespace LabManager.Api.Http;

/// <summary>
/// What a route handler gets from the edge, already checked: the authenticated caller (for routes that need one), the route's
/// <c>{id}</c> as a UUID, the other route values, the query, the body parsed as the route's body type (null when none was sent), and the
/// caller's address (<see cref="ClientAddress"/>), and whether it asked for server-sent events (<c>Accept: text/event-stream</c>).
/// </summary>
public sealed record ApiRequest(
    UserRef? User,
    IReadOnlyDictionary<string, string> Route,
    IReadOnlyDictionary<string, string?> Query,
    object? Json = null,
    Guid Id = default,
    string? ClientIp = null,
    bool WantsEvents = false)
{
    /// <summary>Largest body a route accepts unless it says otherwise (<see cref="ApiRoute.MaxBody"/>).</summary>
    public const int MaxBodyBytes = 16 * 1024;

    /// <summary>The caller of a route that requires a token (the edge has refused the request without one).</summary>
    public UserRef Caller => User ?? throw new InvalidOperationException("This route was reached without an authenticated caller");

    public string? QueryValue(string name) => Query.TryGetValue(name, out var v) ? v : null;

    /// <summary>The body as the route's body type, or null when none was sent.</summary>
    public T? BodyAs<T>() where T : class => Json as T;

    /// <summary>Reads a body of at most <paramref name="max"/> bytes; null with an oversize body.</summary>
    public static async Task<string?> ReadBodyAsync(Stream body, CancellationToken cancellationToken, int max = MaxBodyBytes)
    {
        var buffer = new byte[max + 1];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await body.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
        {
            total += read;
        }

        return total > max ? null : Encoding.UTF8.GetString(buffer, 0, total);
    }

    /// <summary>The answer to an oversize body.</summary>
    public static ApiResult TooLarge(int max = MaxBodyBytes) => ApiResult.Error(413, $"The request body is larger than {max} bytes");

    /// <summary>
    /// Parses a body as <paramref name="type"/>; an empty body gives null. Errors name the body's fields ("minutes must be a whole
    /// number", "unknown field 'x'"), never our types.
    /// </summary>
    public static (object? Value, ApiResult? Error) ParseJson(Type type, string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return (null, null);
        }

        var info = StrictJson.GetTypeInfo(type);
        try
        {
            // A lab is read by the catalog's own reader, which names each bad field by its path (LabDocument.ReadLab).
            if (type == typeof(Core.Labs.Lab))
            {
                return JsonNode.Parse(body) is JsonObject lab ? (lab, null) : (default, ApiResult.BadRequest("The request body must be a JSON object"));
            }

            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (default, ApiResult.BadRequest("The request body must be a JSON object"));
            }

            var unknown = document.RootElement.EnumerateObject()
                .Where(p => !info.Properties.Any(known => string.Equals(known.Name, p.Name, StringComparison.OrdinalIgnoreCase)))
                .Select(p => $"unknown field '{p.Name}'")
                .ToList();
            if (unknown.Count > 0)
            {
                return (default, ApiResult.BadRequest("The request body has fields this route does not take", unknown));
            }

            return (document.RootElement.Deserialize(info), null);
        }
        catch (JsonException ex) when (ex.Path is { Length: > 2 } path && info.Properties.FirstOrDefault(p => string.Equals("$." + p.Name, path, StringComparison.OrdinalIgnoreCase)) is { } field)
        {
            return (default, ApiResult.BadRequest($"{field.Name} must be {Kind(field)}"));
        }
        catch (JsonException)
        {
            return (default, ApiResult.BadRequest("The request body is not valid JSON"));
        }
    }

    private static string Kind(JsonPropertyInfo field) => (Nullable.GetUnderlyingType(field.PropertyType) ?? field.PropertyType) switch
    {
        var t when t == typeof(int) || t == typeof(long) => "a whole number",
        var t when t == typeof(bool) => "true or false",
        var t when t == typeof(Guid) => "a UUID",
        var t when t == typeof(string) => "a string",
        _ => "of the documented type",
    };

    private static readonly JsonSerializerOptions StrictJson = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.Strict,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };
}
