using System.Net;
using System.Net.Sockets;

namespace LabManager.Testing;

/// <summary>
/// HTTP clients that connect from a chosen loopback address, so distinct 127.x addresses stand for distinct hosts (the learner, a
/// stranger) before the emulated firewall.
/// </summary>
public static class SourceAddress
{
    /// <summary>
    /// What a connection the emulated firewall refuses ends in: it is reset at once, which the client reports as a failed request, or, when
    /// the reset comes as it asks for the connection's peer, as the socket's own error.
    /// </summary>
    public static bool IsRefusal(Exception? error) => error is HttpRequestException or SocketException or IOException;

    /// <param name="source">The address the connection comes from, e.g. <c>127.0.0.77</c>.</param>
    /// <param name="hostsTo">Where a host name (not an IP) goes, as a browser resolves <c>*.localhost</c>; null: names are not resolved.</param>
    public static SocketsHttpHandler Handler(string source, IPAddress? hostsTo = null) => new()
    {
        UseProxy = false,
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                var target = IPAddress.TryParse(context.DnsEndPoint.Host, out var ip) ? ip
                    : hostsTo ?? throw new HttpRequestException($"{context.DnsEndPoint.Host} does not resolve here");
                await socket.ConnectAsync(new IPEndPoint(target, context.DnsEndPoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };
}
