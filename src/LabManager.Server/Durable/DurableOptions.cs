namespace LabManager.Server.Durable;

/// <summary>Settings of section <c>Durable</c>: which engine runs the workflows.</summary>
public sealed class DurableOptions
{
    public const string Section = "Durable";

    /// <summary><c>InMemory</c> (default; state is lost with the process) or <c>AzureStorage</c> (survives restarts and crashes).</summary>
    public string Backend { get; set; } = "InMemory";

    /// <summary>Azure Storage account of the task hub; Azurite locally.</summary>
    public string StorageConnectionString { get; set; } = "UseDevelopmentStorage=true";

    /// <summary>Task hub name (tables, queues and blobs are prefixed with it).</summary>
    public string TaskHub { get; set; } = "labmanager";

    /// <summary>Loopback port of the in-process gRPC sidecar; 0 picks a free one.</summary>
    public int SidecarPort { get; set; }

    public bool UsesAzureStorage => string.Equals(Backend, "AzureStorage", StringComparison.OrdinalIgnoreCase);
}
