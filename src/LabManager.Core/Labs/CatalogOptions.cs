namespace LabManager.Core.Labs;

/// <summary>Where labs come from (section <c>Catalog</c>).</summary>
public sealed class CatalogOptions
{
    /// <summary>The catalog file (JSON, or YAML by a <c>.yaml</c>/<c>.yml</c> name) loaded at start-up; none when empty.</summary>
    public string? File { get; set; }

    /// <summary><c>merge</c> (default): the file's labs are saved at start, labs made through the API are left alone. <c>file</c>: the file is the only source.</summary>
    public CatalogMode Mode { get; set; } = CatalogMode.Merge;

    /// <summary>The format the catalog is exported in: the file's.</summary>
    public CatalogFormat Format => File is { Length: > 0 } f ? LabDocument.FormatOf(f) : CatalogFormat.Json;
}

public enum CatalogMode
{
    Merge,
    File,
}
