using LabManager.Core.Labs;

namespace LabManager.Core.Tests;

public sealed class ContainerConfigTests
{
    private static ContainerSpec Spec(string name = "web", params PortMapping[] ports) => new() { Name = name, Image = "nginx", Ports = ports };

    [Fact]
    public void BuildAccessUrl_DefaultsToFirstTcpPort()
    {
        var config = new ContainerConfig { Containers = [Spec("db"), Spec("web", new PortMapping(53, 53, "udp"), new PortMapping(3000, 3000))] };
        Assert.Equal("http://203.0.113.7:3000/", config.BuildAccessUrl("203.0.113.7"));
    }

    [Fact]
    public void BuildAccessUrl_TcpScheme_HasNoPath()
    {
        var config = new ContainerConfig { Containers = [Spec("ssh", new PortMapping(2222, 22))], AccessScheme = "tcp", AccessPath = "/x" };
        Assert.Equal("tcp://10.0.0.1:2222", config.BuildAccessUrl("10.0.0.1"));
    }

    [Fact]
    public void BuildAccessUrl_NothingPublished_Null() =>
        Assert.Null(new ContainerConfig { Containers = [Spec()] }.BuildAccessUrl("10.0.0.1"));

    [Fact]
    public void Validate_Problems_AllReported()
    {
        var config = new ContainerConfig
        {
            AccessScheme = "ftp",
            Containers =
            [
                Spec("web", new PortMapping(80, 80)),
                Spec("web", new PortMapping(80, 8080), new PortMapping(70000, 1)) with { MemoryMb = 1, Cpus = 0, PidsLimit = 1 },
            ],
        };

        var errors = config.Validate();

        Assert.Contains(errors, e => e.Contains("accessScheme", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("used twice", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("published twice", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("memoryMb", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("cpus", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("pidsLimit", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("70000", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_NoContainers_Invalid() =>
        Assert.Contains("containers: at least one container is required", new ContainerConfig { Containers = [] }.Validate());

    [Fact]
    public void Validate_GoodConfig_NoErrors() =>
        Assert.Empty(new ContainerConfig { Containers = [Spec("web", new PortMapping(8080, 80))] }.Validate());
}
