namespace LabManager.Infrastructure.Postgres;

/// <summary>Reading <c>timestamptz</c> columns: Npgsql returns UTC <see cref="DateTime"/>s; these make them UTC <see cref="DateTimeOffset"/>s.</summary>
internal static class DbTime
{
    public static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    public static DateTimeOffset? Utc(DateTime? value) => value is { } v ? Utc(v) : null;
}
