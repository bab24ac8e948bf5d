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
        // The label is the idempotency key: a create whose answer was lost left a VM we must adopt, not duplicate. Only a VM
        // that carries exactly this label and every one of our tags is adopted.
        if (await FindAsync(spec.Label, spec.Tags, cancellationToken) is { } found)
        {
            logger.LogInformation("VM {Label} already exists as {VmId}; adopting it", spec.Label, found.Id);
            return found;
        }

        var image = spec.Image ?? BootImage.Parse(options.Value.DefaultImage);
        var request = new VultrCreateInstanceRequest(
            spec.Region,
            spec.Plan,
            image.OsId,
            string.IsNullOrEmpty(image.ImageId) ? null : image.ImageId,
            string.IsNullOrEmpty(image.SnapshotId) ? null : image.SnapshotId,
            spec.Label,
            spec.Label,
            spec.Tags,
            Convert.ToBase64String(Encoding.UTF8.GetBytes(spec.UserData)));
        var created = await Call(() => api.CreateInstanceAsync(request, cancellationToken), $"create instance (plan {spec.Plan} in {spec.Region}, {image})");
        logger.LogInformation("Created VM {VmId} ({Label}) in {Region}, plan {Plan}, {Image}", created.Instance.Id, spec.Label, spec.Region, spec.Plan, image);
        return ToVm(created.Instance);
    }

    public Task<CloudVm?> FindVmByLabelAsync(string label, string tag, CancellationToken cancellationToken = default) =>
        FindAsync(label, [tag], cancellationToken);

    /// <summary>
    /// The VM with exactly this label and all these tags. The label filter narrows the search when Vultr applies it; every page is
    /// checked here, since Vultr does not document how (or whether) it matches.
    /// </summary>
    private async Task<CloudVm?> FindAsync(string label, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        string? cursor = null;
        do
        {
            var page = await Call(() => api.ListInstancesAsync(null, label, PageSize, cursor, cancellationToken), "list instances");
            if (page.Instances.Select(ToVm).FirstOrDefault(vm => vm.Label == label && tags.All(t => vm.Tags.Contains(t))) is { } found)
            {
                return found;
            }

            cursor = page.Meta.Links.Next;
        }
        while (!string.IsNullOrEmpty(cursor));

        return null;
    }

    /// <summary>One cheap call (one instance listed), to learn whether Vultr answers this deployment's key from this address.</summary>
    public async Task PingAsync(CancellationToken cancellationToken = default) =>
        await Call(() => api.ListInstancesAsync(null, null, 1, null, cancellationToken), "list instances");

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
        // Vultr writes the account's offset (2024-12-02T10:19:45-05:00); the instant is what counts.
        DateTimeOffset.TryParse(i.DateCreated, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var created) ? created.ToUniversalTime() : DateTimeOffset.MinValue);

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
        return CloudProviderException.For($"Vultr {what} answered {status}{(detail is null ? "" : ": " + detail)}", status, inner);
    }
}
