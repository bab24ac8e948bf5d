using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LabManager.Testing;

/// <summary>
/// Runs LabManager programs (the Server, the Vultr emulator) as child processes from their build output, each writing
/// to a log file; whatever is still running is killed on dispose.
/// </summary>
public sealed class ProcessHost : IAsyncDisposable
{
    private readonly List<Process> _processes = [];

    /// <summary>Starts <c>src/{project}</c>'s built dll (same configuration as the caller) with <paramref name="args"/>.</summary>
    public Process Start(string project, IEnumerable<string> args, string log)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var dll = Path.Combine(RepoPaths.Root, "src", project, "bin", configuration, "net10.0", project + ".dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(dll)! };
        info.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        var process = Process.Start(info)!;
        var writer = TextWriter.Synchronized(new StreamWriter(log, append: true) { AutoFlush = true });
        process.OutputDataReceived += (_, e) => writer.WriteLine(e.Data);
        process.ErrorDataReceived += (_, e) => writer.WriteLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_processes)
        {
            _processes.Add(process);
        }

        return process;
    }

    /// <summary>SIGKILL: the process gets no chance to clean up.</summary>
    public static async Task KillAsync(Process process)
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _processes.Where(p => !p.HasExited))
        {
            await KillAsync(p);
        }
    }

    /// <summary>Polls <paramref name="condition"/> every 100 ms; throws <see cref="TimeoutException"/> with <paramref name="failure"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> failure)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException(failure());
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Waits until <paramref name="url"/> answers 200.</summary>
    public static Task WaitForOkAsync(string url, TimeSpan timeout, Func<string> failure) => WaitUntilAsync(() => IsOkAsync(url), timeout, failure);

    /// <summary>True when <paramref name="url"/> answers 200 within 2 s.</summary>
    public static async Task<bool> IsOkAsync(string url)
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            using var response = await http.GetAsync(url);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
