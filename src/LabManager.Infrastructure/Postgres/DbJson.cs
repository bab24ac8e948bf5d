using System.Text.Json;
using System.Text.Json.Serialization;

namespace LabManager.Infrastructure.Postgres;

/// <summary>How lab definitions are written to jsonb columns and read from the catalog file.</summary>
public static class DbJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };
}
