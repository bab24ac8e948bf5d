namespace LabManager.Api.Realtime;

/// <summary>The live-status contract both hosts keep: the hub's path, its methods and its groups.</summary>
public static class LabsRealtime
{
    public const string HubPath = "/hubs/labs";
    public const string StatusMethod = "lab:status";
    public const string NotificationMethod = "lab:notification";
    public const string OperatorsGroup = "operators";

    public static string UserGroup(Guid userId) => $"user:{userId}";

    public static string LabGroup(Guid labId) => $"lab:{labId}";
}
