using System.Security.Cryptography;
using System.Text;

namespace LabManager.Api.Http;

/// <summary>Access tickets: 256 random bits in the link's query, of which only the SHA-256 is stored.</summary>
public static class AccessTickets
{
    /// <summary>The query parameter the gateway reads the ticket from.</summary>
    public const string QueryName = "lab_ticket";

    public static string New() => Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string ticket) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ticket)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
