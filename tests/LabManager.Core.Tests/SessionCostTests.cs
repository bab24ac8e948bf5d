using LabManager.Core.Costs;

namespace LabManager.Core.Tests;

public sealed class SessionCostTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(30, 1)]
    [InlineData(60, 1)]
    [InlineData(61, 2)]
    [InlineData(179, 3)]
    public void Compute_StartedHoursBilled_WithOneHourMinimum(int minutes, int hours)
    {
        Assert.Equal(0.027m * hours, SessionCost.Compute(0.027m, TimeSpan.FromMinutes(minutes)));
    }

    [Fact]
    public void ForPlan_KnownPlan_UsesItsPrice()
    {
        Assert.Equal(0.007m, SessionCost.ForPlan("vc2-1c-1gb", TimeSpan.FromMinutes(5)));
        Assert.Equal(0.110m, SessionCost.ForPlan("vc2-4c-8gb", TimeSpan.FromMinutes(90)));
    }

    [Fact]
    public void ForPlan_UnknownPlan_Null() => Assert.Null(SessionCost.ForPlan("vhp-8c-32gb", TimeSpan.FromHours(1)));

    [Fact]
    public void Compute_NegativePrice_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => SessionCost.Compute(-1m, TimeSpan.FromHours(1)));
}
