using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using LabManager.Core.Ports;
using LabManager.Core.Realtime;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Refit;

namespace LabManager.Infrastructure.Notifications;

/// <summary>
/// The Azure SignalR Service data-plane REST API (version 2022-06-01) that a serverless hub is driven with.
/// Every call carries a token whose audience is the request URL (see <see cref="AzureSignalRAuthHandler"/>).
/// </summary>
public interface IAzureSignalRApi
{
    /// <summary>Puts every connection of a user, present and future, in a group for <paramref name="ttl"/> seconds: 200.</summary>
    [Put("/api/hubs/{hub}/groups/{group}/users/{user}?api-version=2022-06-01")]
    Task AddUserToGroupAsync(string hub, string group, string user, [Query] int ttl, CancellationToken cancellationToken);

    /// <summary>Sends to every connection in a group: 202.</summary>
    [Post("/api/hubs/{hub}/groups/{group}/:send?api-version=2022-06-01")]
    Task SendToGroupAsync(string hub, string group, [Body] SignalRPayload message, CancellationToken cancellationToken);

    /// <summary>Adds a connection to a group: 200.</summary>
    [Put("/api/hubs/{hub}/groups/{group}/connections/{connectionId}?api-version=2022-06-01")]
    Task AddToGroupAsync(string hub, string group, string connectionId, CancellationToken cancellationToken);

    /// <summary>Removes a connection from a group: 200.</summary>
    [Delete("/api/hubs/{hub}/groups/{group}/connections/{connectionId}?api-version=2022-06-01")]
    Task RemoveFromGroupAsync(string hub, string group, string connectionId, CancellationToken cancellationToken);
}

/// <summary>A hub invocation: the client method and its arguments.</summary>
public sealed record SignalRPayload(string Target, IReadOnlyList<object> Arguments);

/// <summary>An Azure SignalR connection string: <c>Endpoint=https://x.service.signalr.net;AccessKey=...;Version=1.0;</c> (optional <c>Port</c>).</summary>
public sealed record AzureSignalRConnection(Uri Endpoint, string AccessKey)
{
    public static AzureSignalRConnection Parse(string connectionString)
    {
        var parts = connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
        if (!parts.TryGetValue("Endpoint", out var endpoint) || !parts.TryGetValue("AccessKey", out var key))
        {
            throw new FormatException("The Azure SignalR connection string needs Endpoint and AccessKey");
        }

        var uri = new UriBuilder(endpoint.TrimEnd('/'));
        if (parts.TryGetValue("Port", out var port))
        {
            uri.Port = int.Parse(port, System.Globalization.CultureInfo.InvariantCulture);
        }

        return new AzureSignalRConnection(uri.Uri, key);
    }

    /// <summary>A token for <paramref name="audience"/>, signed with the access key (HS256); <paramref name="userId"/> becomes <c>nameid</c>.</summary>
    public string Token(string audience, TimeSpan lifetime, string? userId = null)
    {
        var claims = new Dictionary<string, object>();
        if (userId is not null)
        {
            claims["nameid"] = userId;
        }

        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Audience = audience,
            Claims = claims,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(AccessKey)), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>What a browser connects to for <paramref name="hub"/> (the negotiate answer's <c>url</c>).</summary>
    public string ClientUrl(string hub) => $"{Endpoint.ToString().TrimEnd('/')}/client/?hub={Uri.EscapeDataString(hub)}";
}

/// <summary>Signs each REST call: the token's audience is the request URL without its query string.</summary>
public sealed class AzureSignalRAuthHandler(AzureSignalRConnection connection) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var audience = request.RequestUri!.GetLeftPart(UriPartial.Path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", connection.Token(audience, TimeSpan.FromMinutes(5)));
        return base.SendAsync(request, cancellationToken);
    }
}

/// <summary>
/// The contract's clients through Azure SignalR Service (serverless): each group is one REST call. A failed publish is logged, never
/// thrown: the workflow does not wait on browsers.
/// </summary>
public sealed class AzureSignalRLabsClient(IAzureSignalRApi api, ILogger<AzureSignalRLabsClient> logger) : ILabsClient
{
    public async Task StatusAsync(IReadOnlyList<string> groups, LabStatusMessage status, CancellationToken cancellationToken)
    {
        foreach (var group in groups)
        {
            await SendAsync(group, new SignalRPayload(LabsRealtime.StatusMethod, [status]), cancellationToken);
        }
    }

    public Task NotificationAsync(string group, LabNotification notification, CancellationToken cancellationToken) =>
        SendAsync(group, new SignalRPayload(LabsRealtime.NotificationMethod, [notification]), cancellationToken);

    private async Task SendAsync(string group, SignalRPayload payload, CancellationToken cancellationToken)
    {
        try
        {
            await api.SendToGroupAsync(LabsRealtime.HubName, group, payload, cancellationToken);
        }
        catch (Exception ex) when (ex is ApiException or ApiRequestException or HttpRequestException or TaskCanceledException)
        {
            logger.LogWarning("Azure SignalR publish to {Group} failed: {Error}", group, ex.Message);
        }
    }
}
