using System.Globalization;
using System.Net.ServerSentEvents;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LabManager.Api.Http;

/// <summary>The <c>{success, data, message, errors?}</c> body every route answers with.</summary>
public sealed record Envelope(bool Success, object? Data, string? Message, IReadOnlyList<string>? Errors = null);

/// <summary>The same envelope with its <c>data</c> typed, as the OpenAPI document describes a route's success.</summary>
public sealed record Envelope<T>(bool Success, T? Data, string? Message, IReadOnlyList<string>? Errors = null);

/// <summary>A host-neutral answer: status, envelope, and headers (e.g. Retry-After). Each host maps it to its own response.</summary>
public sealed record ApiResult(int Status, Envelope Body, IReadOnlyDictionary<string, string>? Headers = null)
{
    /// <summary>When set, the answer is these server-sent events (status 200, <c>text/event-stream</c>) instead of the envelope.</summary>
    public IAsyncEnumerable<SseItem<string>>? Events { get; init; }

    public static ApiResult EventStream(IAsyncEnumerable<SseItem<string>> events) => new(200, new Envelope(true, null, null)) { Events = events };

    /// <summary>When set, the answer is this text as a file of <see cref="ContentType"/> (an export) instead of the envelope.</summary>
    public string? Text { get; init; }

    public string ContentType { get; init; } = "application/json";

    public static ApiResult File(string text, string contentType, string fileName) =>
        new(200, new Envelope(true, null, null), new Dictionary<string, string> { ["Content-Disposition"] = $"attachment; filename=\"{fileName}\"" })
        {
            Text = text,
            ContentType = contentType,
        };

    /// <summary>How every body is written: camelCase, enums as lower-case strings.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static ApiResult Ok(object? data, string? message = null) => new(200, new Envelope(true, data, message));

    public static ApiResult Created(object? data, string? message = null) => new(201, new Envelope(true, data, message));

    public static ApiResult Accepted(object? data, string? message = null) => new(202, new Envelope(true, data, message));

    public static ApiResult Error(int status, string message, IReadOnlyList<string>? errors = null, IReadOnlyDictionary<string, string>? headers = null) =>
        new(status, new Envelope(false, null, message, errors), headers);

    public static ApiResult BadRequest(string message, IReadOnlyList<string>? errors = null) => Error(400, message, errors);

    public static ApiResult Unauthorized(string message) =>
        Error(401, message, headers: new Dictionary<string, string> { ["WWW-Authenticate"] = "Bearer" });

    public static ApiResult Forbidden() => Error(403, "This route needs the admin role");

    /// <summary>Also the answer for another user's instance: existence is not revealed.</summary>
    public static ApiResult NotFound(string what) => Error(404, $"{what} not found");

    public static ApiResult Conflict(string message) => Error(409, message);

    /// <summary>429 with <c>Retry-After</c> in whole seconds (at least 1); the message ends saying how long to wait.</summary>
    public static ApiResult TooManyRequests(string limit, TimeSpan retryAfter)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        return Error(429, $"{limit}; retry in {seconds} s", headers: new Dictionary<string, string> { ["Retry-After"] = seconds.ToString(CultureInfo.InvariantCulture) });
    }
}
