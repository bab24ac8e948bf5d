using System.Security.Cryptography;
using System.Text;

namespace LabManager.Core.Instances;

/// <summary>
/// The key a lab's VM presents when cloud-init reports the lab up: an HMAC of the instance id, so only the VM that was given
/// it (in its user_data) can raise that instance's LabReady.
/// </summary>
public static class PhoneHome
{
    public static string Key(string secret, Guid instanceId) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes("phone-home:" + instanceId)));

    /// <summary>
    /// The URL a VM reports to, from a template such as <c>https://host/api/labs/instances/{instanceId}/ready?key={key}</c>, naming the
    /// VM's <paramref name="generation"/>; the VM appends its boot number (<c>&amp;boot=N</c>) itself.
    /// </summary>
    public static string Url(string template, string secret, Guid instanceId, int generation)
    {
        var url = template.Replace("{instanceId}", instanceId.ToString(), StringComparison.Ordinal).Replace("{key}", Key(secret, instanceId), StringComparison.Ordinal);
        return url + (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "vm=" + generation.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The agent's heartbeat URL: <paramref name="heartbeatTemplate"/> when set, else the phone-home template with its <c>/ready</c> as
    /// <c>/heartbeat</c>; keyed and naming the VM like <see cref="Url"/>. Null when neither gives one.
    /// </summary>
    public static string? HeartbeatUrl(string? heartbeatTemplate, string? phoneHomeTemplate, string secret, Guid instanceId, int generation)
    {
        var template = heartbeatTemplate is { Length: > 0 } ? heartbeatTemplate
            : phoneHomeTemplate is { Length: > 0 } && phoneHomeTemplate.Contains("/ready", StringComparison.Ordinal) ? phoneHomeTemplate.Replace("/ready", "/heartbeat", StringComparison.Ordinal)
            : null;
        return template is null ? null : Url(template, secret, instanceId, generation);
    }

    public static bool Matches(string secret, Guid instanceId, string? key) =>
        key is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(Key(secret, instanceId)), Encoding.UTF8.GetBytes(key));
}
