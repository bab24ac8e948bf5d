using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace LabManager.VultrEmulator;

/// <summary>
/// Stands in for the lab's containers: for each VM whose lab is up, a tiny HTTP server (<see cref="LabAppHttp"/>) on the VM's
/// loopback address answers on every published port, to the sources the VM's firewall group admits.
/// </summary>
internal sealed class LabApps(Cloud cloud, ILogger<LabApps> logger) : IAsyncDisposable
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

    private async Task ServeAsync(Vm vm, int port, Listener listener)
    {
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

            if (!cloud.Admits(vm, ((IPEndPoint)client.Client.RemoteEndPoint!).Address, port))
            {
                // Vultr's firewall drops the packets; here the connection is reset at once, which no client mistakes for an answer.
                cloud.Count("firewall_refused");
                client.Client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }

            client.NoDelay = true;
            Interlocked.Increment(ref vm.Connections);
            Interlocked.Add(ref vm.NetIn, 600);
            Interlocked.Add(ref vm.NetOut, 1500);
            _ = LabAppHttp.ServeAsync(client, vm, port, listener.Cts.Token);
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
