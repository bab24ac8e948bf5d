namespace LabManager.Core.Instances;

/// <summary>The shared VM watch saw an instance's VM usable in the cloud's list.</summary>
public sealed record VmSighting(string VmId, string MainIp, string InternalIp, string State);
