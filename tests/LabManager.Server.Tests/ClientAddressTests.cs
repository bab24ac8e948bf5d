using System.Net;
using LabManager.Api.Http;
using Microsoft.AspNetCore.Http;

namespace LabManager.Server.Tests;

/// <summary>The learner's address, which the firewall opens their lab to: X-Forwarded-For is believed from trusted proxies only.</summary>
public sealed class ClientAddressTests
{
    private static DefaultHttpContext Request(string remote, string? forwardedFor)
    {
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        if (forwardedFor is not null)
        {
            http.Request.Headers["X-Forwarded-For"] = forwardedFor;
        }

        return http;
    }

    [Fact]
    public void FromAnyoneButATrustedProxy_TheHeaderIsIgnored() =>
        Assert.Equal("198.51.100.9", ClientAddress.Of(Request("198.51.100.9", "203.0.113.50"), ["10.0.0.0/8"])!.ToString());

    [Fact]
    public void ThroughTrustedProxies_TheNearestUntrustedHopIsTheClient() =>
        // A client may send any X-Forwarded-For of its own; only what the trusted proxies appended counts.
        Assert.Equal("198.51.100.9", ClientAddress.Of(Request("10.0.0.2", "203.0.113.50, 198.51.100.9, 10.0.0.7"), ["10.0.0.0/8"])!.ToString());

    [Fact]
    public void WithoutTrustedProxies_TheConnectionsAddress_Ipv4MappedAsIpv4() =>
        Assert.Equal("127.0.0.77", ClientAddress.Of(Request("::ffff:127.0.0.77", "203.0.113.50"), [])!.ToString());

    [Theory]
    [InlineData("203.0.113.5:51234", "203.0.113.5")]
    [InlineData("[2001:db8::5]:51234", "2001:db8::5")]
    public void AHopWithItsPort_IsReadAsItsAddress(string hop, string client) =>
        // As Azure App Service's front ends write it, behind the Functions host on loopback.
        Assert.Equal(client, ClientAddress.Of(Request("127.0.0.1", hop), ["127.0.0.0/8"])!.ToString());
}
