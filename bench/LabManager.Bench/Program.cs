using LabManager.Bench;

// ./scripts/bench.sh <command> [options]: lifecycle (the lab lifecycle), engine (each Durable engine's trivial orchestrations/s), api (API latency), gateway (what the access gateway adds), chaos (the chaos run, bigger than in the tests), heartbeat (what the labs' agents cost).
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
    case "engine":
        foreach (var engine in new[] { "InMemory", "AzureStorage" })
        {
            Console.WriteLine($"{engine}: {await LifecycleBench.TrivialThroughputAsync(engine, BenchArgs.Int(args, "--trivial", 300)):F1} trivial orchestrations/s");
        }

        break;
    case "heartbeat":
        return await HeartbeatBench.RunAsync(args[1..]);
    default:
        Console.Error.WriteLine("usage: bench lifecycle [--labs N] [--rate N] [--lifetime S] [--burst N] [--trivial N] [--engine both|inmemory|azurestorage] [--compare] [--out FILE] | lifecycle --pool N [--burst M] [--profile vultr|fast] [--out FILE]"
            + " | lifecycle --fleet N [--rate R] [--engine E] [--out FILE] | lifecycle --start-rate R [--seconds S] [--engine E] [--out FILE]"
            + " | engine [--trivial N] | api [--requests N] | gateway [--rate N] [--seconds S] [--mb N] | chaos [--labs N] [--kills N] [--storm S] [--seed N] | heartbeat [--labs N] [--seconds S] [--concurrency N] [--out FILE]");
        return 2;
}

return 0;
