namespace LabManager.Testing;

/// <summary>Files of the repository, found from the test's output folder.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Catalog => Path.Combine(Root, "catalog", "labs.json");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LabManager.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("LabManager.sln not found above " + AppContext.BaseDirectory);
    }
}
