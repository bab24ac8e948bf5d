using System.Globalization;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;

namespace LabManager.VultrEmulator;

/// <summary>
/// The lab app's HTTP/1.1, with keep-alive, enough of a web app to test a proxy in front of it:
/// <list type="bullet">
/// <item><c>/</c> and any other path: a small page naming the VM and port;</item>
/// <item><c>/login</c>: sets a cookie of the lab's own and redirects to <c>/whoami</c>;</item>
/// <item><c>/whoami</c>: the request's Host, Cookie and X-Forwarded-* headers as the lab saw them, as text;</item>
/// <item><c>/bytes/{n}</c>: n bytes, streamed;</item>
/// <item><c>/env/{name}</c>: a container's environment variable, as a vulnerable app leaks it (how a learner finds their own flag);</item>
/// <item><c>/ws</c>: a WebSocket that echoes every message.</item>
/// </list>
/// A TCP probe that sends nothing just finds the port open.
/// </summary>
internal static class LabAppHttp
{
    private static readonly string[] EchoedHeaders = ["host", "cookie", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"];

    /// <summary>Serves one connection until the client is done or <paramref name="vmGone"/> (the VM was deleted or stopped) fires.</summary>
    public static async Task ServeAsync(TcpClient client, Vm vm, int port, CancellationToken vmGone)
    {
        using (client)
        using (vmGone.Register(client.Dispose))
        {
            try
            {
                var stream = client.GetStream();
                var buffer = new byte[16 * 1024];
                var pending = new MemoryStream();
                while (await ReadHeadAsync(stream, buffer, pending) is { } head)
                {
                    var lines = head.Split("\r\n");
                    var target = lines[0].Split(' ') is { Length: 3 } parts ? parts[1] : "/";
                    var headers = lines.Skip(1).Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
                        .GroupBy(p => p[0].Trim().ToLowerInvariant()).ToDictionary(g => g.Key, g => string.Join(", ", g.Select(p => p[1].Trim())));
                    await SkipBodyAsync(stream, buffer, pending, headers);
                    var path = target.Split('?')[0];
                    if (path == "/ws" && headers.TryGetValue("sec-websocket-key", out var key))
                    {
                        await EchoWebSocketAsync(stream, key);
                        return;
                    }

                    var close = headers.GetValueOrDefault("connection")?.Contains("close", StringComparison.OrdinalIgnoreCase) == true;
                    await AnswerAsync(stream, path, headers, vm, port, close);
                    if (close)
                    {
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException or WebSocketException or ObjectDisposedException)
            {
                // A client that hangs up is not an error.
            }
        }
    }

    private static async Task AnswerAsync(NetworkStream stream, string path, Dictionary<string, string> headers, Vm vm, int port, bool close)
    {
        var (vmId, label) = (vm.Id, vm.Label);
        var extra = new StringBuilder();
        string type = "text/html; charset=utf-8", status = "200 OK";
        byte[] body;
        if (path == "/login")
        {
            status = "302 Found";
            extra.Append("Location: /whoami\r\nSet-Cookie: labsession=lab-").Append(port.ToString(CultureInfo.InvariantCulture)).Append("; Path=/; HttpOnly\r\n");
            body = [];
        }
        else if (path.StartsWith("/env/", StringComparison.Ordinal))
        {
            type = "text/plain; charset=utf-8";
            var value = vm.Containers.Select(c => c.Environment.GetValueOrDefault(path[5..])).FirstOrDefault(v => v is not null);
            (status, body) = value is null ? ("404 Not Found", []) : (status, Encoding.UTF8.GetBytes(value));
        }
        else if (path == "/whoami")
        {
            type = "text/plain; charset=utf-8";
            body = Encoding.UTF8.GetBytes(string.Concat(EchoedHeaders.Select(h => $"{h}: {headers.GetValueOrDefault(h, "")}\n")));
        }
        else if (path.StartsWith("/bytes/", StringComparison.Ordinal) && long.TryParse(path[7..], CultureInfo.InvariantCulture, out var n) && n is >= 0 and <= 1L << 30)
        {
            await WriteHeadAsync(stream, status, "application/octet-stream", n, "", close);
            var chunk = new byte[64 * 1024];
            for (var left = n; left > 0; left -= chunk.Length)
            {
                await stream.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, left)));
            }

            return;
        }
        else
        {
            body = Encoding.UTF8.GetBytes(
                $"<!doctype html><html><head><title>Lab {label}</title></head><body><h1>Lab app</h1><p>VM {vmId} ({label}) on port {port}.</p></body></html>");
        }

        await WriteHeadAsync(stream, status, type, body.Length, extra.ToString(), close);
        await stream.WriteAsync(body);
    }

    private static Task WriteHeadAsync(NetworkStream stream, string status, string type, long length, string extra, bool close) =>
        stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status}\r\nContent-Type: {type}\r\nContent-Length: {length}\r\n{extra}Connection: {(close ? "close" : "keep-alive")}\r\n\r\n")).AsTask();

    private static async Task EchoWebSocketAsync(NetworkStream stream, string key)
    {
        // RFC 6455 fixes SHA-1 for the handshake; it protects nothing.
#pragma warning disable CA5350
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"));
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true });
        var buffer = new byte[4096];
        while (socket.State == WebSocketState.Open)
        {
            var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                return;
            }

            await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, CancellationToken.None);
        }
    }

    /// <summary>The next request head (bytes after it stay in <paramref name="pending"/>), or null when the client is done.</summary>
    private static async Task<string?> ReadHeadAsync(NetworkStream stream, byte[] buffer, MemoryStream pending)
    {
        while (true)
        {
            var seen = pending.GetBuffer().AsSpan(0, (int)pending.Length);
            var end = seen.IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                var head = Encoding.ASCII.GetString(seen[..end]);
                Consume(pending, end + 4);
                return head;
            }

            if (pending.Length > 64 * 1024)
            {
                return null;
            }

            using var idle = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var n = await stream.ReadAsync(buffer, idle.Token);
            if (n == 0)
            {
                return null;
            }

            pending.Write(buffer, 0, n);
        }
    }

    private static async Task SkipBodyAsync(NetworkStream stream, byte[] buffer, MemoryStream pending, Dictionary<string, string> headers)
    {
        var left = long.TryParse(headers.GetValueOrDefault("content-length"), CultureInfo.InvariantCulture, out var length) ? length : 0;
        var fromPending = Math.Min(left, pending.Length);
        Consume(pending, (int)fromPending);
        for (left -= fromPending; left > 0; )
        {
            var n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)));
            if (n == 0)
            {
                return;
            }

            left -= n;
        }
    }

    private static void Consume(MemoryStream pending, int count)
    {
        var rest = pending.GetBuffer().AsSpan(count, (int)pending.Length - count).ToArray();
        pending.SetLength(0);
        pending.Write(rest);
    }
}
