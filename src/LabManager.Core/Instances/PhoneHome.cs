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

    public static bool Matches(string secret, Guid instanceId, string? key) =>
        key is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(Key(secret, instanceId)), Encoding.UTF8.GetBytes(key));
}
