namespace LabManager.Core.Labs;

/// <summary>A lab definition from the catalog (admin-owned). Mirrors the <c>labs</c> table.</summary>
public sealed record Lab
{
    public required Guid Id { get; init; }

    /// <summary>Stable key of the lab in the catalog file.</summary>
    public string Slug { get; init; } = "";
    public required string Name { get; init; }
    public string Description { get; init; } = "";
    public string Category { get; init; } = "general";
    public LabDifficulty Difficulty { get; init; } = LabDifficulty.Beginner;
    public int EstimatedTimeMinutes { get; init; } = 60;
    public int Points { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public required ContainerConfig ContainerConfig { get; init; }
    public IReadOnlyList<Exercise> Exercises { get; init; } = [];
    public IReadOnlyList<string> Prerequisites { get; init; } = [];
    public IReadOnlyList<string> LearningObjectives { get; init; } = [];

    /// <summary>How long a session lasts once the lab is running, unless extended or overridden.</summary>
    public int TimeoutMinutes { get; init; } = 60;

    public TimeSpan TimeoutDuration => TimeSpan.FromMinutes(TimeoutMinutes);

    public int MaxInstancesPerUser { get; init; } = 1;

    /// <summary>Minutes without a request through the gateway (or the page's keep-alive) before the lab stops; null: the deployment's default, 0: never.</summary>
    public int? IdleTimeoutMinutes { get; init; }

    /// <summary>Vultr plan id, e.g. <c>vc2-1c-1gb</c>.</summary>
    public string Plan { get; init; } = "vc2-1c-1gb";

    /// <summary>Vultr region id, e.g. <c>ewr</c>.</summary>
    public string Region { get; init; } = "ewr";

    /// <summary>What the lab's VM boots from; null: the deployment's default (<c>Vultr:DefaultImage</c>).</summary>
    public Ports.BootImage? Image { get; init; }

    public bool IsActive { get; init; } = true;

    /// <summary>
    /// The catalog's version of this definition: every change makes a new one, and an instance runs the version it started with. Set by
    /// the catalog, never read from a file or a request.
    /// </summary>
    public int Version { get; init; }

    /// <summary>The warm pool kept for this lab; null: none, every start boots a VM.</summary>
    public LabPool? Pool { get; init; }
}

public enum LabDifficulty
{
    Beginner,
    Intermediate,
    Advanced,
    Expert,
}

/// <summary>An exercise of a lab, with its hints.</summary>
public sealed record Exercise
{
    public required string Id { get; init; }
    public required string Title { get; init; }
    public string Description { get; init; } = "";
    public int Points { get; init; }
    public IReadOnlyList<Hint> Hints { get; init; } = [];

    /// <summary>How a submitted answer is checked; null when the exercise has no answer to submit.</summary>
    public AnswerCheck? Check { get; init; }

    /// <summary>Whether answers are taken only from learners who started the lab (the default); false for an exercise answered without it.</summary>
    public bool NeedsLab { get; init; } = true;
}

/// <summary>
/// An exercise's answer check: a flag, stored only as its SHA-256 (<see cref="Flags.Hash"/>); a flag of each instance's own, handed to
/// its containers as the variable <see cref="DynamicFlag"/>; or a free answer validated by the configured checker named
/// <see cref="Checker"/> with <see cref="Arguments"/>. Never shown to learners or the tutor.
/// </summary>
public sealed record AnswerCheck
{
    /// <summary>The environment variable that holds the instance's own flag (<see cref="Flags.Dynamic"/>), e.g. <c>FLAG_SQLI</c>.</summary>
    public string? DynamicFlag { get; init; }

    /// <summary>Hex SHA-256 of the flag.</summary>
    public string? FlagSha256 { get; init; }

    /// <summary>The name of an <see cref="IAnswerChecker"/>, e.g. <c>keywords</c>.</summary>
    public string? Checker { get; init; }

    public IReadOnlyList<string> Arguments { get; init; } = [];
}

/// <summary>A hint; revealing it costs <see cref="Cost"/> points of its exercise.</summary>
public sealed record Hint(string Id, string Text, int Cost);
