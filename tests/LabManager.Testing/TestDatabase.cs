using Npgsql;

namespace LabManager.Testing;

/// <summary>
/// A fresh, empty database on the PostgreSQL server the test command starts (<c>LABMANAGER_TEST_POSTGRES</c>),
/// dropped when disposed.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    public const string Variable = "LABMANAGER_TEST_POSTGRES";

    private readonly string _server;

    private TestDatabase(string server, string name)
    {
        _server = server;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(server) { Database = name, Pooling = true, MaxPoolSize = 100 }.ConnectionString;
    }

    public string Name { get; }
    public string ConnectionString { get; }

    /// <summary>A new database on <paramref name="server"/> (a connection string), by default the one in LABMANAGER_TEST_POSTGRES.</summary>
    public static async Task<TestDatabase> CreateAsync(string? server = null)
    {
        server ??= Environment.GetEnvironmentVariable(Variable)
            ?? throw new InvalidOperationException($"{Variable} is not set: run the tests with ./scripts/test.sh, which starts PostgreSQL");
        var db = new TestDatabase(server, "lm_test_" + Guid.NewGuid().ToString("N")[..12]);
        await db.AdminAsync($"CREATE DATABASE {db.Name}");
        return db;
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await AdminAsync($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)");
    }

    /// <summary>Runs a scalar query in this database.</summary>
    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private async Task AdminAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_server) { Database = "postgres" }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
