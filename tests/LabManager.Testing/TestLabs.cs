using LabManager.Core.Labs;

namespace LabManager.Testing;

/// <summary>Sample labs for tests.</summary>
public static class TestLabs
{
    /// <summary>A DVWA-like web lab: one container publishing 8080 → 80.</summary>
    public static Lab Web(Guid? id = null) => new()
    {
        Id = id ?? Guid.NewGuid(),
        Name = "DVWA SQL injection",
        Category = "web",
        Plan = "vc2-1c-1gb",
        Region = "ewr",
        ContainerConfig = new ContainerConfig
        {
            Containers =
            [
                new ContainerSpec
                {
                    Name = "dvwa",
                    Image = "vulnerables/web-dvwa:latest",
                    Ports = [new PortMapping(8080, 80)],
                    Capabilities = ["CHOWN", "SETUID", "SETGID", "DAC_OVERRIDE"],
                },
            ],
        },
    };
}
