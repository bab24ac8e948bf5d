using LabManager.Core.Labs;

namespace LabManager.Core.Ports;

/// <summary>Read access to lab definitions.</summary>
public interface ILabCatalog
{
    /// <summary>The lab's current definition, active or not; null when it does not exist or was deleted.</summary>
    Task<Lab?> GetAsync(Guid labId, CancellationToken cancellationToken = default);

    /// <summary>
    /// The lab as it was at <paramref name="version"/> (what an instance started with: <see cref="Instances.LabInstance.LabVersion"/>),
    /// with whether it is active now; 0: the current one. Null when there is no such lab or version.
    /// </summary>
    Task<Lab?> GetAsync(Guid labId, int version, CancellationToken cancellationToken = default);

    /// <summary>The active labs.</summary>
    Task<IReadOnlyList<Lab>> ListAsync(CancellationToken cancellationToken = default);
}

/// <summary>Changes to the catalog; each change of a definition makes a new version, kept with who made it, when and what changed.</summary>
public interface ILabCatalogStore
{
    /// <summary>Every lab that is not deleted, active or not, with its live instances and last change.</summary>
    Task<IReadOnlyList<CatalogEntry>> ListAllAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Saves <paramref name="lab"/> by its id: a new lab (version 1), a new version when its definition changed (a deleted lab is
    /// restored), or only its active flag and pool (a pool the lab does not name is kept). The slug must be free.
    /// </summary>
    Task<SaveOutcome> SaveAsync(Lab lab, string changedBy, string? note = null, CancellationToken cancellationToken = default);

    /// <summary>Sets whether learners may start the lab; false when there is no such lab.</summary>
    Task<bool> SetActiveAsync(Guid labId, bool active, string changedBy, CancellationToken cancellationToken = default);

    /// <summary>Deletes the lab, or only deactivates it while it has live instances (answered, with their number).</summary>
    Task<DeleteOutcome> DeleteAsync(Guid labId, string changedBy, CancellationToken cancellationToken = default);

    /// <summary>The lab's versions, newest first.</summary>
    Task<IReadOnlyList<LabVersionInfo>> VersionsAsync(Guid labId, CancellationToken cancellationToken = default);
}

/// <summary>A lab in the operators' list.</summary>
public sealed record CatalogEntry(Lab Lab, int LiveInstances, DateTimeOffset UpdatedAt, string UpdatedBy);

/// <summary>One version of a lab: who made it, when, the fields it changed, and why (e.g. a rollback).</summary>
public sealed record LabVersionInfo(int Version, string ChangedBy, DateTimeOffset ChangedAt, IReadOnlyList<string> Changes, string? Note);

/// <summary>What a save did: the lab's version after it, the fields changed (none: the definition was already so), or the conflict.</summary>
public sealed record SaveOutcome(int Version, IReadOnlyList<string> Changes, bool Created, string? Conflict = null);

/// <summary>What a delete did: <see cref="Deleted"/>, or kept deactivated for its <see cref="LiveInstances"/>; <see cref="Found"/> false: no such lab.</summary>
public sealed record DeleteOutcome(bool Found, bool Deleted, int LiveInstances);
