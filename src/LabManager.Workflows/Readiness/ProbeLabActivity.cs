using System.Net.Sockets;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Microsoft.DurableTask;
using Microsoft.Extensions.Options;

namespace LabManager.Workflows.Readiness;

/// <summary>Input of <see cref="ProbeLabActivity"/>: the lab and the VM's public IP.</summary>
/// <summary>Input of <see cref="ProbeLabActivity"/>; <paramref name="Container"/> comes from the session (null: read from the catalog).</summary>
public sealed record ProbeLabInput(Guid LabId, string Ip, ContainerConfig? Container = null);

/// <summary>Whether the lab answered, and the URL learners use.</summary>
public sealed record ProbeLabResult(bool Up, string? AccessUrl, string Detail);

/// <summary>
/// Probes the lab's access URL: an HTTP answer below 500 (a login redirect counts) or, for TCP labs, an accepted
/// connection means the lab is up.
/// </summary>
public sealed class ProbeLabActivity(ILabCatalog catalog, IHttpClientFactory httpFactory, IOptions<LabSessionOptions> options)
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

        using var timeout = new CancellationTokenSource(options.Value.ProbeTimeout);
        var uri = new Uri(url);
        try
        {
            if (uri.Scheme == "tcp")
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(uri.Host, uri.Port, timeout.Token);
                return new ProbeLabResult(true, url, "connected");
            }

            using var client = httpFactory.CreateClient(HttpClientName);
            using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            return new ProbeLabResult(status < 500, url, $"HTTP {status}");
        }
        catch (Exception ex) when (ex is HttpRequestException or SocketException or OperationCanceledException)
        {
            return new ProbeLabResult(false, url, ex is OperationCanceledException ? "timed out" : ex.Message);
        }
    }
}
