using System.Text;
using System.Text.Json;

namespace LabManager.Api.Http;

/// <summary>What a route handler gets from the host: the Authorization header, route values, query and body text.</summary>
public sealed record ApiRequest(
    string? Authorization,
    IReadOnlyDictionary<string, string> Route,
    IReadOnlyDictionary<string, string?> Query,
    string? Body)
{
    /// <summary>Largest body any route accepts.</summary>
    public const int MaxBodyBytes = 16 * 1024;

    public string? QueryValue(string name) => Query.TryGetValue(name, out var v) ? v : null;

    /// <summary>The route value <paramref name="name"/> as a UUID, or a 400 naming <paramref name="what"/>.</summary>
    public (Guid Id, ApiResult? Error) RouteId(string name, string what) =>
        Route.TryGetValue(name, out var text) && Guid.TryParse(text, out var id)
            ? (id, null)
            : (Guid.Empty, ApiResult.BadRequest($"The {what} id must be a UUID"));

    /// <summary>Reads a body of at most <see cref="MaxBodyBytes"/>; null with an oversize body.</summary>
    public static async Task<string?> ReadBodyAsync(Stream body, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxBodyBytes + 1];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await body.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
        {
            total += read;
        }

        return total > MaxBodyBytes ? null : Encoding.UTF8.GetString(buffer, 0, total);
    }

    /// <summary>The answer to an oversize body.</summary>
    public static ApiResult TooLarge() => ApiResult.Error(413, $"The request body is larger than {MaxBodyBytes} bytes");

    /// <summary>Parses the body as <typeparamref name="T"/>; an empty body gives <paramref name="empty"/>.</summary>
    public (T? Value, ApiResult? Error) ReadJson<T>(T empty)
    {
        if (string.IsNullOrWhiteSpace(Body))
        {
            return (empty, null);
        }

        try
        {
            var value = JsonSerializer.Deserialize<T>(Body, StrictJson);
            return value is null ? (default, ApiResult.BadRequest("The request body must be a JSON object")) : (value, null);
        }
        catch (JsonException ex)
        {
            return (default, ApiResult.BadRequest("The request body is not valid JSON for this route", [ex.Message]));
        }
    }

    private static readonly JsonSerializerOptions StrictJson = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict,
    };
}
