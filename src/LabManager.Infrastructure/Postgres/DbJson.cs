using System.Text.Json;

namespace LabManager.Infrastructure.Postgres;

/// <summary>How lab definitions (and the other jsonb columns) are written and read: as the catalog file is (<see cref="Core.Labs.LabDocument.Json"/>).</summary>
public static class DbJson
{
    public static JsonSerializerOptions Options => Core.Labs.LabDocument.Json;
}
