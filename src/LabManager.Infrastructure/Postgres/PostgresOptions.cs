using System.ComponentModel.DataAnnotations;

namespace LabManager.Infrastructure.Postgres;

/// <summary>Settings of the PostgreSQL store.</summary>
public sealed class PostgresOptions
{
    /// <summary>Npgsql connection string, from <c>ConnectionStrings:Postgres</c>.</summary>
    [Required(ErrorMessage = "ConnectionStrings:Postgres is required")]
    public string ConnectionString { get; set; } = "";
}
