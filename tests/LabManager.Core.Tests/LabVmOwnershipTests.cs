using LabManager.Core.Costs;
using LabManager.Core.Instances;
using LabManager.Core.Ports;

namespace LabManager.Core.Tests;

/// <summary>What makes a VM LabManager's: the label form, the tag, and what its VMs cost.</summary>
public sealed class LabVmOwnershipTests
{
    private static readonly Guid Id = Guid.Parse("5f0c2a9e-0d1b-4c57-9a61-3c2f5d0b7a99");

    private static CloudVm Vm(string label, params string[] tags) => new("vm", label, "active", "running", "ok", "1.2.3.4", "", tags, DateTimeOffset.UtcNow);

    [Fact]
    public void VmLabel_Generations_RoundTrip()
    {
        Assert.Equal("lab-5f0c2a9e-0d1b-4c57-9a61-3c2f5d0b7a99", LabInstance.VmLabel(Id));
        Assert.Equal("lab-5f0c2a9e-0d1b-4c57-9a61-3c2f5d0b7a99-3", LabInstance.VmLabel(Id, 3));
        Assert.True(LabInstance.TryParseVmLabel(LabInstance.VmLabel(Id, 3), out var id, out var generation));
        Assert.Equal((Id, 3), (id, generation));
        Assert.True(LabInstance.TryParseVmLabel(LabInstance.VmLabel(Id), out _, out generation));
        Assert.Equal(1, generation);
    }

    [Theory]
    [InlineData("lab-5f0c2a9e-0d1b-4c57-9a61-3c2f5d0b7a99-1")]
    [InlineData("lab-5f0c2a9e-0d1b-4c57-9a61-3c2f5d0b7a99-02")]
    [InlineData("lab-5f0c2a9e-0d1b-4c57-9a61-3c2f5d0b7a99-x")]
    [InlineData("lab-5f0c2a9e-0d1b-4c57-9a61-3c2f5d0b7a99-")]
    [InlineData("lab-5F0C2A9E-0D1B-4C57-9A61-3C2F5D0B7A99")]
    [InlineData("lab-5f0c2a9e0d1b4c579a613c2f5d0b7a99")]
    [InlineData("lab-5f0c2a9e-0d1b-4c57-9a61-3c2f5d0b7a99 ")]
    [InlineData("xlab-5f0c2a9e-0d1b-4c57-9a61-3c2f5d0b7a99")]
    [InlineData("prod-db")]
    [InlineData("")]
    public void TryParseVmLabel_NotOurForm_False(string label) => Assert.False(LabInstance.TryParseVmLabel(label, out _, out _));

    [Fact]
    public void IsOurs_NeedsTheTagAndTheLabelForm()
    {
        var label = LabInstance.VmLabel(Id);
        Assert.True(Vm(label, "labmanager").IsOurs("labmanager"));
        Assert.True(Vm(LabInstance.VmLabel(Id, 2), "other", "labmanager").IsOurs("labmanager"));
        Assert.False(Vm(label).IsOurs("labmanager"));
        Assert.False(Vm(label, "team-b").IsOurs("labmanager"));
        Assert.False(Vm(label, "labmanager-staging").IsOurs("labmanager"));
        Assert.False(Vm("prod", "labmanager").IsOurs("labmanager"));
    }

    [Theory]
    [InlineData("1743", 1743, null, null)]
    [InlineData("docker", null, "docker", null)]
    [InlineData("snapshot:0f9c", null, null, "0f9c")]
    public void BootImage_Parse(string setting, int? os, string? image, string? snapshot)
    {
        var parsed = BootImage.Parse(setting);
        Assert.Equal(new BootImage(os, image, snapshot), parsed);
        Assert.True(parsed.IsValid);
        Assert.False(new BootImage(1743, "docker").IsValid);
        Assert.False(new BootImage().IsValid);
    }

    [Fact]
    public void ForVms_EveryVmBilledOnItsOwn_TheLiveOneUpToNow()
    {
        var start = DateTimeOffset.UtcNow;
        VmUsage[] vms = [new("a", start, start.AddMinutes(5)), new("b", start.AddMinutes(5), start.AddMinutes(70)), new("c", start.AddMinutes(70))];
        // 1 h + 2 h + (still alive 10 min later) 1 h, at 0.007 $/h.
        Assert.Equal(0.028m, SessionCost.ForVms("vc2-1c-1gb", vms, start.AddMinutes(80)));
        Assert.Equal(0m, SessionCost.ForVms("vc2-1c-1gb", [], start));
        Assert.Null(SessionCost.ForVms("unknown-plan", vms, start));
    }
}
