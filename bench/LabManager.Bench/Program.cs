using LabManager.Bench;

// ./scripts/bench.sh <command> [options]: api (API latency), chaos (the chaos run, bigger than in the tests).
switch (args.FirstOrDefault())
{
    case "api":
        await ApiLatency.RunAsync(args[1..]);
        break;
    case "chaos":
        return await ChaosBench.RunAsync(args[1..]);
    default:
        Console.Error.WriteLine("usage: bench api [--requests N] | chaos [--labs N] [--kills N] [--storm SECONDS] [--seed N]");
        return 2;
}

return 0;
