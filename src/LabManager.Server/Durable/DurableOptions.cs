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

    /// <summary>
    /// Control queues of the Azure Storage task hub (1..16). Each is owned by one replica at a time, and a replica that joins takes its
    /// share from the others while their sessions run on them: measured here, that hand-over stalled sessions for 30 s to minutes. With
    /// one, a joining replica takes nothing: one replica runs the sessions' orchestration steps (light: replaying history, deciding the
    /// next step), every replica runs their activities (the Vultr calls, probes, PostgreSQL), and the partition moves only when its
    /// owner dies (after its lease, 30 s). Changing it on a hub strands the sessions in flight.
    /// </summary>
    public int PartitionCount { get; set; } = 1;

    /// <summary>
    /// This Server's name among the task hub's workers; the machine name when unset. Give each replica on one host (or in containers of one
    /// host name) its own, the same at every restart: two workers of one name each take the hub's partition as theirs and run the same
    /// session twice at once (the engine then discards one run's step and the session stalls). A restarted worker of the same name goes
    /// on with its partition at once; under a new name it waits for the old name's lease to lapse (30 s).
    /// </summary>
    public string? WorkerId { get; set; }

    /// <summary>The name this Server works on the task hub under: <see cref="WorkerId"/>, or the machine name.</summary>
    public string WorkerName => string.IsNullOrWhiteSpace(WorkerId) ? Environment.MachineName : WorkerId;

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
