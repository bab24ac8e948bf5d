using LabManager.Core.Labs;

namespace LabManager.Core.Ports;

/// <summary>Read access to lab definitions.</summary>
public interface ILabCatalog
{
    Task<Lab?> GetAsync(Guid labId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<Lab>> ListAsync(CancellationToken cancellationToken = default);
}
