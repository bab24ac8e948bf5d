using System.Text.Json;

namespace LabManager.Infrastructure.Vultr;

/// <summary>Reads Vultr's <c>{"error": "...", "status": N}</c> error body.</summary>
internal static class VultrError
{
    public static string? Read(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var e) ? e.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
