using System.Collections.Concurrent;
using System.Net;
using LabManager.Api.Http;
using LabManager.Core.Access;
using LabManager.Core.Instances;
using LabManager.Core.Ports;
using LabManager.Workflows;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace LabManager.Server.Gateway;

/// <summary>
/// The access gateway: each running lab at a host of its own (<c>&lt;instance id&gt;.&lt;Access:LabDomain&gt;</c>, <c>&lt;id&gt;-&lt;port&gt;.…</c> for its
/// other web ports), forwarded by YARP to the VM, for its learner only. A link's one-use ticket is traded for a cookie of that host alone;
/// without one, with another lab's, or with a used ticket, the answer is the same 404 as for a host that names nothing. The Server's
/// own cookies, headers and page policy never reach a lab, and the gateway's cookie never reaches the VM.
/// </summary>
public sealed class LabGateway(
    IHttpForwarder forwarder,
    IInstanceStore instances,
    ILabCatalog catalog,
    IDataProtectionProvider protection,
    IOptions<AccessOptions> access,
    IOptions<LabSessionOptions> sessions,
    ActivityStamps stamps,
    TimeProvider time,
    ILogger<LabGateway> logger) : IDisposable
{
    /// <summary>
    /// The gateway's cookie, set on each lab's host only. Under https it carries the <c>__Host-</c> prefix, so no page of another lab can
    /// plant one for this host through a parent-domain cookie.
    /// </summary>
    public string CookieName { get; } = CookieNameFor(access.Value);

    private static readonly TimeSpan RouteCacheTime = TimeSpan.FromSeconds(2);

    private readonly ITimeLimitedDataProtector _cookies = protection.CreateProtector("LabManager.Gateway.Access").ToTimeLimitedDataProtector();
    private readonly ConcurrentDictionary<Guid, (LabRoute? Route, DateTimeOffset At)> _routes = new();
    private readonly HttpMessageInvoker _client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        EnableMultipleHttp2Connections = true,
        ActivityHeadersPropagator = null,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        // A lab on https serves its own self-signed certificate, made on the VM: there is no name or authority to check it against. What
        // the learner sees is the gateway's certificate; the leg to the VM is fenced by its firewall.
#pragma warning disable CA5359
        SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
#pragma warning restore CA5359
    });

    private readonly LabTransformer _transformer = new(CookieNameFor(access.Value));

    /// <summary>The host names a lab (in gateway mode): the request is the gateway's, whatever its path.</summary>
    public bool Claims(HttpContext http, out Guid instanceId, out int? port)
    {
        (instanceId, port) = (Guid.Empty, null);
        return access.Value.Mode == AccessMode.Gateway && access.Value.TryParseLabHost(http.Request.Host.Host, out instanceId, out port);
    }

    public async Task HandleAsync(HttpContext http, Guid instanceId, int? port)
    {
        var ct = http.RequestAborted;
        var now = time.GetUtcNow();
        if (http.Request.Query.TryGetValue(AccessTickets.QueryName, out var ticket))
        {
            await RedeemAsync(http, instanceId, ticket.ToString(), now, ct);
            return;
        }

        if (!HoldsCookieFor(http, instanceId))
        {
            await GatewayPages.NotFoundAsync(http);
            return;
        }

        var route = await RouteAsync(instanceId, now, ct);
        if (route is null)
        {
            await GatewayPages.NotFoundAsync(http);
            return;
        }

        if (route.Status.IsTerminal())
        {
            await GatewayPages.EndedAsync(http);
            return;
        }

        var target = port ?? (route.WebPorts.Count > 0 ? route.WebPorts[0] : 0);
        if (!route.WebPorts.Contains(target))
        {
            await GatewayPages.NotFoundAsync(http);
            return;
        }

        if (route.Status != LabInstanceStatus.Running || route.Ip is null)
        {
            await GatewayPages.NotReadyAsync(http);
            return;
        }

        stamps.Touch(instanceId, now);
        var error = await forwarder.SendAsync(http, $"{route.Scheme}://{route.Ip}:{target}", _client,
            new ForwarderRequestConfig { ActivityTimeout = TimeSpan.FromMinutes(2) }, _transformer);
        if (error != ForwarderError.None)
        {
            logger.LogInformation("Gateway: instance {InstanceId} port {Port}: {Error}", instanceId, target, error);
            if (!http.Response.HasStarted)
            {
                await GatewayPages.NoAnswerAsync(http);
            }
        }
    }

    /// <summary>Trades a ticket for the lab host's cookie (one use), then sends the browser to the same address without it.</summary>
    private async Task RedeemAsync(HttpContext http, Guid instanceId, string ticket, DateTimeOffset now, CancellationToken ct)
    {
        var redeemed = await instances.RedeemAccessTicketAsync(AccessTickets.Hash(ticket), now, ct);
        if (redeemed is not { } r || r.InstanceId != instanceId || await instances.GetAsync(instanceId, ct) is not { } instance)
        {
            await GatewayPages.NotFoundAsync(http);
            return;
        }

        // Good for as long as the session can live; the gateway checks the session is still on at every request anyway.
        var expires = (instance.StartedAt ?? now) + sessions.Value.MaxLifetime;
        http.Response.Cookies.Append(CookieName, _cookies.Protect($"{instanceId:D}|{r.UserId:D}", expires), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Lax,
            Secure = access.Value.LabScheme == "https",
            Path = "/",
            Expires = expires,
        });
        var query = QueryString.Create(http.Request.Query.Where(q => q.Key != AccessTickets.QueryName));
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Redirect(http.Request.PathBase + http.Request.Path + query);
    }

    /// <summary>Whether any cookie of the gateway's name the request carries is one this gateway made for this lab.</summary>
    private bool HoldsCookieFor(HttpContext http, Guid instanceId)
    {
        foreach (var value in CookiesNamed(http.Request, CookieName))
        {
            try
            {
                if (_cookies.Unprotect(value).Split('|') is [var id, _] && Guid.TryParse(id, out var named) && named == instanceId)
                {
                    return true;
                }
            }
            catch (System.Security.Cryptography.CryptographicException)
            {
            }
        }

        return false;
    }

    /// <summary>Every value of the cookies with this name (a browser may send several, e.g. one a parent domain set).</summary>
    private static IEnumerable<string> CookiesNamed(HttpRequest request, string name) =>
        CookiePairs(request).Where(c => c.Name == name).Select(c => Uri.UnescapeDataString(c.Value));

    /// <summary>The request's cookies as the browser sent them, in order, each <c>name=value</c> pair as it stands in the header.</summary>
    private static IEnumerable<(string Name, string Value, string Pair)> CookiePairs(HttpRequest request) =>
        request.Headers.Cookie.SelectMany(h => (h ?? "").Split(';')).Select(c => c.Trim()).Where(c => c.Length > 0)
            .Select(c => c.Split('=', 2) is [var name, var value] ? (name, value, c) : (c, "", c));

    /// <summary>Where the lab is, read again at most every <see cref="RouteCacheTime"/>.</summary>
    private async Task<LabRoute?> RouteAsync(Guid instanceId, DateTimeOffset now, CancellationToken ct)
    {
        if (_routes.TryGetValue(instanceId, out var cached) && now - cached.At < RouteCacheTime)
        {
            return cached.Route;
        }

        LabRoute? route = null;
        if (await instances.GetAsync(instanceId, ct) is { } instance && await catalog.GetAsync(instance.LabId, instance.LabVersion, ct) is { } lab)
        {
            var container = lab.ContainerConfig;
            route = new LabRoute(instance.Status, instance.PublicIp, container.AccessScheme == "https" ? "https" : "http", container.WebPorts());
        }

        if (_routes.Count > 10_000)
        {
            _routes.Clear();
        }

        _routes[instanceId] = (route, now);
        return route;
    }

    public void Dispose() => _client.Dispose();

    private static string CookieNameFor(AccessOptions options) => options.LabScheme == "https" ? "__Host-labmanager_access" : "labmanager_access";

    private sealed record LabRoute(LabInstanceStatus Status, string? Ip, string Scheme, IReadOnlyList<int> WebPorts);

    /// <summary>
    /// Forwards the request as the browser sent it, with the lab's own Host (so the lab's redirects and absolute links name the
    /// gateway), X-Forwarded-For/Proto/Host, and without the gateway's cookie.
    /// </summary>
    private sealed class LabTransformer(string cookieName) : HttpTransformer
    {
        public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
        {
            await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
            var request = httpContext.Request;
            proxyRequest.Headers.Host = request.Host.Value;
            proxyRequest.Headers.Remove("Cookie");
            var cookies = CookiePairs(request).Where(c => c.Name != cookieName).Select(c => c.Pair).ToList();
            if (cookies.Count > 0)
            {
                proxyRequest.Headers.TryAddWithoutValidation("Cookie", string.Join("; ", cookies));
            }

            foreach (var name in new[] { "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded" })
            {
                proxyRequest.Headers.Remove(name);
            }

            proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-For", ClientAddress.Of(httpContext, [])?.ToString());
            proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Proto", request.Scheme);
            proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Host", request.Host.Value);
        }
    }
}

/// <summary>
/// The gateway's last-request stamps per lab, kept in memory and written to the store every <see cref="AccessOptions.ActivityFlushInterval"/>,
/// where the idle check (and every replica) reads them.
/// </summary>
public sealed class ActivityStamps(IInstanceStore instances, IOptions<AccessOptions> access, ILogger<ActivityStamps> logger) : BackgroundService
{
    private ConcurrentDictionary<Guid, DateTimeOffset> _seen = new();

    public void Touch(Guid instanceId, DateTimeOffset at) => _seen[instanceId] = at;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(access.Value.ActivityFlushInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
        }

        await FlushAsync(CancellationToken.None);
    }

    private async Task FlushAsync(CancellationToken ct)
    {
        var batch = Interlocked.Exchange(ref _seen, new ConcurrentDictionary<Guid, DateTimeOffset>());
        if (batch.IsEmpty)
        {
            return;
        }

        try
        {
            await instances.RecordActivityAsync(batch, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("Gateway activity of {Count} lab(s) not recorded ({Error}); kept for the next flush", batch.Count, ex.Message);
            foreach (var (id, at) in batch)
            {
                _seen.AddOrUpdate(id, at, (_, later) => later > at ? later : at);
            }
        }
    }
}
