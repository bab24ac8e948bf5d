using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LabManager.VultrEmulator;

/// <summary>
/// Stands in for the lab's containers: for each VM whose lab is up, a tiny HTTP server on the VM's
/// loopback address answers on every published port.
/// </summary>
internal sealed class LabApps(ILogger<LabApps> logger) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(string VmId, int Port), Listener> _listeners = new();

    public bool IsServing(string vmId) => _listeners.Keys.Any(k => k.VmId == vmId);

    /// <summary>Starts serving the VM's ports that are not served yet. Returns false if a port could not be bound.</summary>
    public bool EnsureServing(Vm vm)
    {
        var ok = true;
        foreach (var port in vm.LabPorts)
        {
            if (_listeners.ContainsKey((vm.Id, port)))
            {
                continue;
            }

            try
            {
                var tcp = new TcpListener(IPAddress.Parse(vm.MainIp), port);
                tcp.Start();
                var listener = new Listener(tcp, new CancellationTokenSource());
                _listeners[(vm.Id, port)] = listener;
                _ = ServeAsync(vm, port, listener);
                logger.LogInformation("Lab app of {Label} answers on {Ip}:{Port}", vm.Label, vm.MainIp, port);
            }
            catch (SocketException ex)
            {
                logger.LogWarning("Lab app of {Label} cannot bind {Ip}:{Port}: {Error}", vm.Label, vm.MainIp, port, ex.Message);
                ok = false;
            }
        }

        return ok;
    }

    public void Stop(string vmId)
    {
        foreach (var key in _listeners.Keys.Where(k => k.VmId == vmId).ToList())
        {
            if (_listeners.TryRemove(key, out var l))
            {
                l.Dispose();
            }
        }
    }

    private static async Task ServeAsync(Vm vm, int port, Listener listener)
    {
        var body = Encoding.UTF8.GetBytes(
            $"<!doctype html><html><head><title>Lab {vm.Label}</title></head><body><h1>Lab app</h1><p>VM {vm.Id} ({vm.Label}) on port {port}.</p></body></html>");
        var head = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        while (!listener.Cts.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.Tcp.AcceptTcpClientAsync(listener.Cts.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = AnswerAsync(client, head, body);
        }
    }

    private static async Task AnswerAsync(TcpClient client, byte[] head, byte[] body)
    {
        using (client)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                var stream = client.GetStream();
                var buffer = new byte[4096];
                var seen = new StringBuilder();
                // Read the request head (or whatever arrives first: a TCP probe sends nothing).
                while (!seen.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var n = await stream.ReadAsync(buffer, timeout.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
                }

                await stream.WriteAsync(head, timeout.Token);
                await stream.WriteAsync(body, timeout.Token);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException)
            {
                // A probe that hangs up is not an error.
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (var l in _listeners.Values)
        {
            l.Dispose();
        }

        _listeners.Clear();
        return ValueTask.CompletedTask;
    }

    private sealed record Listener(TcpListener Tcp, CancellationTokenSource Cts) : IDisposable
    {
        public void Dispose()
        {
            Cts.Cancel();
            Tcp.Stop();
            Cts.Dispose();
        }
    }
}
