using DbUp;
using Microsoft.Extensions.Logging;

namespace LabManager.Infrastructure.Postgres;

/// <summary>Applies the numbered SQL scripts in Postgres/Migrations (embedded) that the database has not run yet.</summary>
public static class DatabaseMigrator
{
    public static void Migrate(string connectionString, ILogger logger)
    {
        EnsureDatabase.For.PostgresqlDatabase(connectionString, new DbUp.Engine.Output.NoOpUpgradeLog());
        var engine = DeployChanges.To.PostgresqlDatabase(connectionString)
            .WithScriptsEmbeddedInAssembly(typeof(DatabaseMigrator).Assembly, name => name.Contains(".Postgres.Migrations.", StringComparison.Ordinal))
            .WithTransactionPerScript()
            .LogToNowhere()
            .Build();
        var pending = engine.GetScriptsToExecute().Select(s => s.Name).ToList();
        var result = engine.PerformUpgrade();
        if (!result.Successful)
        {
            throw new InvalidOperationException($"Database migration {result.ErrorScript?.Name} failed: {result.Error.Message}", result.Error);
        }

        logger.LogInformation("Database migrated: {Count} script(s) applied {Scripts}", pending.Count, pending);
    }
}
