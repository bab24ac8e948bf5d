using System.Net;
using Microsoft.AspNetCore.Http;

namespace LabManager.Api.Http;

/// <summary>
/// The caller's address: the connection's, or, when the connection comes from a trusted proxy, the nearest address in
/// <c>X-Forwarded-For</c> that is not one of those proxies. From anyone else the header is ignored, so it cannot be forged.
/// </summary>
public static class ClientAddress
{
    public static IPAddress? Of(HttpContext http, IReadOnlyList<string> trustedProxies)
    {
        var address = Normal(http.Connection.RemoteIpAddress);
        if (address is null || trustedProxies.Count == 0)
        {
            return address;
        }

        var trusted = trustedProxies.Select(IPNetwork.Parse).ToList();
        var hops = http.Request.Headers["X-Forwarded-For"].SelectMany(v => (v ?? "").Split(',')).Select(h => h.Trim()).ToList();
        for (var i = hops.Count - 1; i >= 0 && trusted.Any(t => t.Contains(address)); i--)
        {
            // Some proxies (Azure App Service's front ends) write the client's port too: 203.0.113.5:51234, [2001:db8::5]:51234.
            if (!IPAddress.TryParse(hops[i], out var hop) && !(IPEndPoint.TryParse(hops[i], out var endPoint) && (hop = endPoint.Address) is not null))
            {
                break;
            }

            address = Normal(hop)!;
        }

        return address;
    }

    private static IPAddress? Normal(IPAddress? ip) => ip is { IsIPv4MappedToIPv6: true } ? ip.MapToIPv4() : ip;
}
