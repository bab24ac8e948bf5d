using LabManager.Bench;

// ./scripts/bench.sh <command> [options]: lifecycle (the lab lifecycle), api (API latency), gateway (what the access gateway adds), chaos (the chaos run, bigger than in the tests), heartbeat (what the labs' agents cost).
switch (args.FirstOrDefault())
{
    case "api":
        await ApiLatency.RunAsync(args[1..]);
        break;
    case "lifecycle":
        return await LifecycleBench.RunAsync(args[1..]);
    case "gateway":
        return await GatewayBench.RunAsync(args[1..]);
    case "chaos":
        return await ChaosBench.RunAsync(args[1..]);
    case "heartbeat":
        return await HeartbeatBench.RunAsync(args[1..]);
    default:
        Console.Error.WriteLine("usage: bench lifecycle [--labs N] [--rate N] [--lifetime S] [--burst N] [--trivial N] [--engine both|inmemory|azurestorage] [--compare] [--out FILE] | lifecycle --pool N [--burst M] [--profile vultr|fast] [--out FILE]"
            + " | api [--requests N] | gateway [--rate N] [--seconds S] [--mb N] | chaos [--labs N] [--kills N] [--storm S] [--seed N] | heartbeat [--labs N] [--seconds S] [--concurrency N] [--out FILE]");
        return 2;
}

return 0;
