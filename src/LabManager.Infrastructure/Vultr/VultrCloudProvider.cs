using System.Globalization;
using System.Net;
using System.Text;
using LabManager.Core.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Refit;

namespace LabManager.Infrastructure.Vultr;

/// <summary><see cref="ICloudProvider"/> on Vultr API v2. Retries and rate limiting live in the HTTP pipeline.</summary>
public sealed class VultrCloudProvider(IVultrApi api, IOptions<VultrOptions> options, ILogger<VultrCloudProvider> logger) : ICloudProvider
{
    private int PageSize => options.Value.PageSize;

    public async Task<CloudVm> CreateVmAsync(VmSpec spec, CancellationToken cancellationToken = default)
    {
        // The label is the idempotency key: a create whose answer was lost left a VM we must adopt, not duplicate.
        if (await FindVmByLabelAsync(spec.Label, cancellationToken) is { } found)
        {
            logger.LogInformation("VM {Label} already exists as {VmId}; adopting it", spec.Label, found.Id);
            return found;
        }

        var request = new VultrCreateInstanceRequest(
            spec.Region,
            spec.Plan,
            spec.OsId,
            spec.Label,
            spec.Label,
            spec.Tags,
            Convert.ToBase64String(Encoding.UTF8.GetBytes(spec.UserData)));
        var created = await Call(() => api.CreateInstanceAsync(request, cancellationToken), "create instance");
        logger.LogInformation("Created VM {VmId} ({Label}) in {Region}, plan {Plan}", created.Instance.Id, spec.Label, spec.Region, spec.Plan);
        return ToVm(created.Instance);
    }

    public async Task<CloudVm?> FindVmByLabelAsync(string label, CancellationToken cancellationToken = default)
    {
        var page = await Call(() => api.ListInstancesAsync(null, label, PageSize, null, cancellationToken), "list instances");
        return page.Instances.Where(i => i.Label == label).Select(ToVm).FirstOrDefault();
    }

    public async Task<CloudVm?> GetVmAsync(string vmId, CancellationToken cancellationToken = default)
    {
        var response = await Call(() => api.GetInstanceAsync(vmId, cancellationToken), "get instance");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        ThrowIfFailed(response, "get instance");
        return ToVm(response.Content!.Instance);
    }

    public async Task DeleteVmAsync(string vmId, CancellationToken cancellationToken = default)
    {
        var response = await Call(() => api.DeleteInstanceAsync(vmId, cancellationToken), "delete instance");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            logger.LogInformation("VM {VmId} was already gone", vmId);
            return;
        }

        ThrowIfFailed(response, "delete instance");
        logger.LogInformation("Deleted VM {VmId}", vmId);
    }

    public Task RebootVmAsync(string vmId, CancellationToken cancellationToken = default) =>
        Call(() => api.RebootInstanceAsync(vmId, cancellationToken), "reboot instance");

    public Task ReinstallVmAsync(string vmId, CancellationToken cancellationToken = default) =>
        Call(() => api.ReinstallInstanceAsync(vmId, new VultrReinstallRequest(null), cancellationToken), "reinstall instance");

    public async Task<IReadOnlyList<CloudVm>> ListVmsAsync(string tag, CancellationToken cancellationToken = default)
    {
        var all = new List<CloudVm>();
        string? cursor = null;
        do
        {
            var page = await Call(() => api.ListInstancesAsync(tag, null, PageSize, cursor, cancellationToken), "list instances");
            all.AddRange(page.Instances.Select(ToVm));
            cursor = page.Meta.Links.Next;
        }
        while (!string.IsNullOrEmpty(cursor));

        return all;
    }

    private static CloudVm ToVm(VultrInstance i) => new(
        i.Id,
        i.Label ?? "",
        i.Status ?? "",
        i.PowerStatus ?? "",
        i.ServerStatus ?? "",
        i.MainIp ?? "0.0.0.0",
        i.InternalIp ?? "",
        i.Tags ?? [],
        DateTimeOffset.TryParse(i.DateCreated, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var created) ? created : DateTimeOffset.MinValue);

    private static void ThrowIfFailed(IApiResponse response, string what)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw Failure(what, (int?)response.StatusCode ?? 0, (response.Error as ApiException)?.Content, response.Error);
        }
    }

    private static async Task<T> Call<T>(Func<Task<T>> call, string what)
    {
        try
        {
            return await call();
        }
        catch (ApiException ex)
        {
            throw Failure(what, (int)ex.StatusCode, ex.Content, ex);
        }
        catch (ApiRequestException ex)
        {
            throw new CloudProviderException($"Vultr {what} failed: {ex.InnerException?.Message ?? ex.Message}", null, ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or Polly.Timeout.TimeoutRejectedException)
        {
            throw new CloudProviderException($"Vultr {what} failed: {ex.Message}", null, ex);
        }
    }

    private static async Task Call(Func<Task> call, string what) => await Call(async () =>
    {
        await call();
        return true;
    }, what);

    private static CloudProviderException Failure(string what, int status, string? body, Exception? inner)
    {
        var detail = VultrError.Read(body);
        return new CloudProviderException($"Vultr {what} answered {status}{(detail is null ? "" : ": " + detail)}", status, inner);
    }
}
