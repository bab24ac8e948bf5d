using LabManager.Core.Instances;

namespace LabManager.Core.Tests;

public sealed class LabInstanceTransitionsTests
{
    public static TheoryData<LabInstanceStatus, LabInstanceStatus> Allowed => new()
    {
        { LabInstanceStatus.Starting, LabInstanceStatus.Provisioning },
        { LabInstanceStatus.Starting, LabInstanceStatus.Stopping },
        { LabInstanceStatus.Starting, LabInstanceStatus.Error },
        { LabInstanceStatus.Provisioning, LabInstanceStatus.Running },
        { LabInstanceStatus.Provisioning, LabInstanceStatus.Stopping },
        { LabInstanceStatus.Provisioning, LabInstanceStatus.Error },
        { LabInstanceStatus.Provisioning, LabInstanceStatus.Pooled },
        { LabInstanceStatus.Pooled, LabInstanceStatus.Running },
        { LabInstanceStatus.Pooled, LabInstanceStatus.Stopping },
        { LabInstanceStatus.Pooled, LabInstanceStatus.Error },
        { LabInstanceStatus.Running, LabInstanceStatus.Provisioning },
        { LabInstanceStatus.Running, LabInstanceStatus.Stopping },
        { LabInstanceStatus.Running, LabInstanceStatus.Error },
        { LabInstanceStatus.Stopping, LabInstanceStatus.Stopped },
        { LabInstanceStatus.Stopping, LabInstanceStatus.Expired },
        { LabInstanceStatus.Stopping, LabInstanceStatus.Error },
    };

    [Fact]
    public void CanMoveTo_EveryPair_OnlyTheListedOnes()
    {
        var allowed = Allowed.Select(row => ((LabInstanceStatus)row[0], (LabInstanceStatus)row[1])).ToHashSet();
        foreach (var from in Enum.GetValues<LabInstanceStatus>())
        {
            foreach (var to in Enum.GetValues<LabInstanceStatus>())
            {
                Assert.True(allowed.Contains((from, to)) == from.CanMoveTo(to), $"{from} → {to}");
            }
        }
    }

    [Fact]
    public void IsTerminal_EndStates_True()
    {
        var terminal = Enum.GetValues<LabInstanceStatus>().Where(s => s.IsTerminal()).ToList();
        Assert.Equal([LabInstanceStatus.Stopped, LabInstanceStatus.Expired, LabInstanceStatus.Error], terminal);
        Assert.All(terminal, s => Assert.False(s.IsActive()));
    }

    [Fact]
    public void MoveTo_Allowed_SetsStatusAndEndsTerminal()
    {
        var now = DateTimeOffset.UtcNow;
        var instance = new LabInstance { Id = Guid.NewGuid(), UserId = Guid.NewGuid(), LabId = Guid.NewGuid(), CreatedAt = now };

        var stopping = instance.MoveTo(LabInstanceStatus.Stopping, now);
        Assert.Null(stopping.EndedAt);
        var stopped = stopping.MoveTo(LabInstanceStatus.Stopped, now.AddSeconds(1));
        Assert.Equal(LabInstanceStatus.Stopped, stopped.Status);
        Assert.Equal(now.AddSeconds(1), stopped.EndedAt);
    }

    [Fact]
    public void MoveTo_FromEnded_Throws()
    {
        var instance = new LabInstance
        {
            Id = Guid.NewGuid(), UserId = Guid.NewGuid(), LabId = Guid.NewGuid(), CreatedAt = DateTimeOffset.UtcNow, Status = LabInstanceStatus.Expired,
        };
        var ex = Assert.Throws<InvalidStatusTransitionException>(() => instance.MoveTo(LabInstanceStatus.Running, DateTimeOffset.UtcNow));
        Assert.Equal("A lab instance cannot go from expired to running", ex.Message);
    }

    [Theory]
    [InlineData("running", LabInstanceStatus.Running)]
    [InlineData("STOPPED", LabInstanceStatus.Stopped)]
    public void ParseWire_Names_RoundTrip(string wire, LabInstanceStatus expected)
    {
        Assert.Equal(expected, LabInstanceTransitions.ParseWire(wire));
        Assert.Equal(wire.ToLowerInvariant(), expected.ToWire());
    }

    [Theory]
    [InlineData("3")]
    [InlineData("paused")]
    public void ParseWire_Unknown_Throws(string wire) => Assert.Throws<ArgumentException>(() => LabInstanceTransitions.ParseWire(wire));
}
