namespace LabManager.Server.Durable;

/// <summary>The engines the Server runs workflows on.</summary>
public enum DurableBackend
{
    /// <summary>In the process: state is lost with it.</summary>
    InMemory,

    /// <summary>An Azure Storage task hub (Azurite locally): workflows survive restarts and crashes.</summary>
    AzureStorage,
}

/// <summary>Settings of section <c>Durable</c>: which engine runs the workflows.</summary>
public sealed class DurableOptions
{
    public const string Section = "Durable";

    /// <summary><c>InMemory</c> (default, also when empty) or <c>AzureStorage</c>; anything else stops the Server at start, saying so.</summary>
    public string Backend { get; set; } = nameof(DurableBackend.InMemory);

    /// <summary>Azure Storage account of the task hub; Azurite locally.</summary>
    public string StorageConnectionString { get; set; } = "UseDevelopmentStorage=true";

    /// <summary>Task hub name (tables, queues and blobs are prefixed with it).</summary>
    public string TaskHub { get; set; } = "labmanager";

    /// <summary>Loopback port of the in-process gRPC sidecar; 0 picks a free one.</summary>
    public int SidecarPort { get; set; }

    /// <summary>The engine <see cref="Backend"/> names; a typo is refused rather than silently run in memory.</summary>
    public DurableBackend Engine =>
        string.IsNullOrEmpty(Backend) ? DurableBackend.InMemory
        : Enum.TryParse<DurableBackend>(Backend, ignoreCase: true, out var engine) && Enum.IsDefined(engine) && !int.TryParse(Backend, out _)
            ? engine
            : throw new InvalidOperationException(
                $"Durable:Backend must be {string.Join(" or ", Enum.GetNames<DurableBackend>())}, not '{Backend}'");
}
