using LabManager.Core.Instances;

namespace LabManager.Core.Ports;

/// <summary>Where lab instances are kept.</summary>
public interface IInstanceStore
{
    Task<LabInstance?> GetAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>Adds a new instance; fails if the id exists.</summary>
    Task AddAsync(LabInstance instance, CancellationToken cancellationToken = default);

    /// <summary>Replaces the stored instance with <paramref name="instance"/> (same id).</summary>
    Task UpdateAsync(LabInstance instance, CancellationToken cancellationToken = default);
}
