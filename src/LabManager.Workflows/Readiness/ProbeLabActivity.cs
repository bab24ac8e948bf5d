using System.Net.Sockets;
using LabManager.Core.Access;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Microsoft.DurableTask;
using Microsoft.Extensions.Options;

namespace LabManager.Workflows.Readiness;

/// <summary>
/// Input of <see cref="ProbeLabActivity"/>: the lab and the VM's public IP; <paramref name="Container"/> comes from the session (null: read
/// from the catalog); <paramref name="InstanceId"/> names the lab's gateway URL.
/// </summary>
public sealed record ProbeLabInput(Guid LabId, string Ip, ContainerConfig? Container = null, Guid? InstanceId = null);

/// <summary>Whether the lab answered at <paramref name="Target"/> (the VM), and the URL learners use (the gateway's, in gateway mode).</summary>
public sealed record ProbeLabResult(bool Up, string? AccessUrl, string Detail, string? Target = null);

/// <summary>
/// Probes the lab's access URL: an HTTP answer below 500 (a login redirect counts) or, for TCP labs, an accepted
/// connection means the lab is up.
/// </summary>
public sealed class ProbeLabActivity(ILabCatalog catalog, IHttpClientFactory httpFactory, IOptions<LabSessionOptions> options, IOptions<AccessOptions> access)
    : TaskActivity<ProbeLabInput, ProbeLabResult>
{
    /// <summary>Name of the HttpClient used for probes (no redirects, short timeout).</summary>
    public const string HttpClientName = "lab-probe";

    public override Task<ProbeLabResult> RunAsync(TaskActivityContext context, ProbeLabInput input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<ProbeLabResult> ExecuteAsync(ProbeLabInput input)
    {
        var container = input.Container ?? (await catalog.GetAsync(input.LabId))?.ContainerConfig
            ?? throw new PermanentFailureException($"Lab {input.LabId} does not exist");
        var url = container.BuildAccessUrl(input.Ip);
        if (url is null)
        {
            // Nothing published: the VM being up is all there is to wait for.
            return new ProbeLabResult(true, null, "no published port");
        }

        var accessUrl = access.Value.Mode == AccessMode.Gateway && input.InstanceId is { } id && container.WebPorts() is [var first, ..]
            ? access.Value.LabUrl(id, first, first: true, container.AccessPath)
            : url;

        using var timeout = new CancellationTokenSource(options.Value.ProbeTimeout);
        var uri = new Uri(url);
        try
        {
            if (uri.Scheme == "tcp")
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(uri.Host, uri.Port, timeout.Token);
                // A connection reset at once was refused (a firewall that rejects rather than drops); a server that is there sends a
                // banner or waits for the client.
                using var settle = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
                try
                {
                    _ = await tcp.GetStream().ReadAsync(new byte[1], settle.Token);
                }
                catch (OperationCanceledException) when (settle.IsCancellationRequested)
                {
                }

                return new ProbeLabResult(true, accessUrl, "connected", url);
            }

            using var client = httpFactory.CreateClient(HttpClientName);
            using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            return new ProbeLabResult(status < 500, accessUrl, $"HTTP {status}", url);
        }
        catch (Exception ex) when (ex is HttpRequestException or SocketException or OperationCanceledException or IOException)
        {
            return new ProbeLabResult(false, accessUrl, ex is OperationCanceledException ? "timed out" : ex.Message, url);
        }
    }
}
