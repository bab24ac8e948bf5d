using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using LabManager.Core.Instances;
using LabManager.Testing;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace LabManager.Server.Tests;

/// <summary>A Server with the tutor (<see cref="TutorServer"/>), and headless Chromium (Debian's, driven by Playwright) to use its page.</summary>
public sealed class BrowserFixture : TutorServer
{
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Where each step's screenshot is saved: <c>artifacts/browser/</c> at the repository root.</summary>
    public string Artifacts { get; } = Path.Combine(RepoPaths.Root, "artifacts", "browser");

    /// <summary>The labs' agents report every second, so the page has their figures at once.</summary>
    protected override IEnumerable<string> Settings => [.. base.Settings, "Agent:Interval=00:00:01", "Agent:MinInterval=00:00:00.5"];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var chromium = Environment.GetEnvironmentVariable("LABMANAGER_CHROMIUM") ?? "/usr/bin/chromium";
        Assert.True(File.Exists(chromium), $"Chromium not found at {chromium}: install Debian's chromium package (the test command does) or set LABMANAGER_CHROMIUM");
        Directory.CreateDirectory(Artifacts);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            // No background traffic: this machine has no internet, and Chromium would keep trying.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    public override async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        await base.DisposeAsync();
    }

    /// <summary>Uncaught script errors and Content Security Policy violations of every page opened.</summary>
    public ConcurrentQueue<string> PageProblems { get; } = new();

    /// <summary>A fresh browser context (its own storage) at the given width, on the Server's page; dialogs are accepted.</summary>
    public async Task<IPage> OpenAsync(int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height }, BaseURL = Http.BaseAddress!.ToString() });
        context.SetDefaultTimeout(15_000);
        var page = await context.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        page.PageError += (_, error) => PageProblems.Enqueue(error);
        page.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.Ordinal))
            {
                PageProblems.Enqueue(message.Text);
            }
        };
        var response = await page.GotoAsync("/");
        Assert.Contains("script-src 'self'", response!.Headers["content-security-policy"], StringComparison.Ordinal);
        return page;
    }

    public Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Artifacts, name + ".png"), FullPage = true });
}

public sealed class BrowserTests(BrowserFixture server, ITestOutputHelper output) : IClassFixture<BrowserFixture>
{
    private const string SqliDump = "5f4dcc3b5aa765d61d8327deb882cf99";

    [Fact]
    public async Task A_learner_runs_a_lab_from_start_to_stop_and_an_operator_force_stops_another()
    {
        // Another learner's lab, for the operator to force stop.
        var otherToken = server.Token(Guid.NewGuid());
        var otherId = await server.StartRunningAsync(ServerFixture.JuiceShopLab, otherToken);

        var page = await server.OpenAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Get a learner token" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Labs", Exact = true })).ToBeVisibleAsync();
        await Expect(page.Locator("#lab-list > li")).ToHaveCountAsync(4);

        // The filters narrow the catalog.
        await page.GetByLabel("Search").FillAsync("juice");
        await Expect(page.Locator("#lab-list > li")).ToHaveCountAsync(1);
        await page.GetByLabel("Search").FillAsync("");
        await page.GetByLabel("Category").SelectOptionAsync("cryptography");
        await Expect(page.Locator("#lab-list > li")).ToHaveCountAsync(1);
        await page.GetByLabel("Category").SelectOptionAsync("");
        await page.GetByLabel("Difficulty").SelectOptionAsync("intermediate");
        await Expect(page.Locator("#lab-list > li")).ToHaveCountAsync(2);
        await page.GetByLabel("Difficulty").SelectOptionAsync("");
        await Expect(page.Locator("#lab-list > li")).ToHaveCountAsync(4);
        await server.ScreenshotAsync(page, "01-catalog");

        // Start DVWA and watch it come up, live: the page is never reloaded.
        await page.GetByRole(AriaRole.Button, new() { Name = "Open DVWA: SQL injection" }).ClickAsync();
        await Expect(page.Locator("#lab-detail h2")).ToHaveTextAsync("DVWA: SQL injection");
        await Expect(page.Locator("#live")).ToHaveTextAsync("Live updates on");
        await page.EvaluateAsync("() => { window.notReloaded = true; }");
        await page.GetByRole(AriaRole.Button, new() { Name = "Start lab" }).ClickAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync(new Regex("^(starting|provisioning)$"));
        await Expect(page.GetByRole(AriaRole.Progressbar, new() { Name = "Lab start progress" })).ToBeVisibleAsync();
        await server.ScreenshotAsync(page, "02-starting");
        await Expect(page.Locator("#status")).ToHaveTextAsync("running", new() { Timeout = 60_000 });
        Assert.True(await page.EvaluateAsync<bool>("() => window.notReloaded === true"));
        await Expect(page.Locator("#countdown")).ToHaveTextAsync(new Regex(@"^\d+:\d\d(:\d\d)?$"));
        // What the lab's agent reports: its container running, and its log as text.
        await Expect(page.Locator("#containers li[data-container='dvwa']")).ToContainTextAsync("running", new() { Timeout = 30_000 });
        await Expect(page.Locator("#containers li[data-container='dvwa']")).ToContainTextAsync(new Regex(@"CPU \d+\.\d % · memory \d+ MiB of 768 MiB"));
        await page.Locator("#logs summary").ClickAsync();
        await Expect(page.Locator("#logs-text")).ToContainTextAsync("dvwa: started");
        await server.ScreenshotAsync(page, "03-running");

        // Extend moves the countdown past the hour; Restart reboots the VM and Reset replaces it, and the lab comes back.
        await page.GetByRole(AriaRole.Button, new() { Name = "Extend 15 min" }).ClickAsync();
        await Expect(page.Locator("#countdown")).ToHaveTextAsync(new Regex(@"^1:1[45]:\d\d$"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Restart" }).ClickAsync();
        await Expect(page.Locator("#alert")).ToContainTextAsync("Restarting the VM");
        await Expect(page.Locator("#restarts")).ToHaveTextAsync("Restarted 1×", new() { Timeout = 60_000 });
        await Expect(page.Locator("#status")).ToHaveTextAsync("running", new() { Timeout = 60_000 });
        await page.GetByRole(AriaRole.Button, new() { Name = "Reset" }).ClickAsync();
        await Expect(page.Locator("#alert")).ToContainTextAsync("Resetting: a fresh VM is on its way");
        await Expect(page.Locator("#restarts")).ToHaveTextAsync("Restarted 2×", new() { Timeout = 60_000 });
        await Expect(page.Locator("#status")).ToHaveTextAsync("running", new() { Timeout = 60_000 });

        // "Open the lab" opens it through the gateway at its own host: the one-use ticket becomes a cookie of that host, the address bar
        // shows the clean URL, and the lab's page and WebSocket work.
        var labPage = await page.Context.RunAndWaitForPageAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Open the lab ↗" }).ClickAsync());
        await Expect(labPage.GetByRole(AriaRole.Heading, new() { Name = "Lab app" })).ToBeVisibleAsync();
        var labUrl = new Uri(labPage.Url);
        Assert.EndsWith(".lab.localhost", labUrl.Host, StringComparison.Ordinal);
        Assert.Equal("/login.php", labUrl.PathAndQuery);
        Assert.Equal("echo", await labPage.EvaluateAsync<string>(
            "() => new Promise((done, fail) => { const ws = new WebSocket(`ws://${location.host}/ws`); ws.onopen = () => ws.send('echo'); ws.onmessage = (e) => { done(e.data); ws.close(); }; ws.onerror = () => fail('the WebSocket failed'); })"));
        await server.ScreenshotAsync(labPage, "03b-lab-through-the-gateway");
        await labPage.CloseAsync();

        // Another learner's browser, given the same address, gets the page of a host where there is no lab.
        var strangerContext = await server.Browser.NewContextAsync();
        var strangerPage = await strangerContext.NewPageAsync();
        var refused = await strangerPage.GotoAsync(labUrl.ToString());
        Assert.Equal(404, refused!.Status);
        await Expect(strangerPage.GetByRole(AriaRole.Heading, new() { Name = "No lab here" })).ToBeVisibleAsync();
        await strangerContext.CloseAsync();

        // A hint, with its cost, then the right answer and the points.
        var exercise = page.Locator("[data-exercise=sqli-dump]");
        await exercise.GetByRole(AriaRole.Button, new() { Name = "Reveal hint 1 (−10 pts)" }).ClickAsync();
        await Expect(exercise.Locator(".hint")).ToContainTextAsync("Find the number of columns with ORDER BY");
        await server.ScreenshotAsync(page, "04-hint");
        await exercise.GetByLabel("Answer to Dump the users").FillAsync("not the flag");
        await exercise.GetByRole(AriaRole.Button, new() { Name = "Submit" }).ClickAsync();
        await Expect(exercise.Locator(".result")).ToHaveTextAsync("Not quite: try again.");
        await exercise.GetByLabel("Answer to Dump the users").FillAsync(SqliDump);
        await exercise.GetByRole(AriaRole.Button, new() { Name = "Submit" }).ClickAsync();
        await Expect(exercise.Locator(".result")).ToHaveTextAsync("Correct! +60 points.");
        await Expect(exercise.Locator(".solved")).ToHaveTextAsync("Solved · 60 pts");
        await Expect(page.Locator("#lab-points")).ToHaveTextAsync("Your points in this lab: 60");
        await Expect(page.Locator("#total-points")).ToHaveTextAsync("60 pts");
        await server.ScreenshotAsync(page, "05-answer");

        // Beyond 3 answers a minute (this server's limit), the API's sentence says how long to wait.
        var detect = page.Locator("[data-exercise=sqli-detect]");
        await detect.GetByLabel("Answer to Detect the injection").FillAsync("no error here");
        await detect.GetByRole(AriaRole.Button, new() { Name = "Submit" }).ClickAsync();
        await Expect(detect.Locator(".result")).ToHaveTextAsync("Not quite: try again.");
        await detect.GetByRole(AriaRole.Button, new() { Name = "Submit" }).ClickAsync();
        await Expect(page.Locator("#alert")).ToContainTextAsync(new Regex(@"Too many answers: at most 3 per 60 s; retry in \d+ s"));

        // The tutor's answer shows in the chat panel as it is written: the model's fake sends a piece every 250 ms, the admin hash
        // split over three of them. What the answer's bubble showed at every change is recorded in the page: never a piece of the flag.
        server.Model.Chunks = ["Close! ", "The hash ", "is 5f4dcc3b", "5aa765d61d83", "27deb882cf99. ", "Now try ", "ORDER BY ", "to count ", "the columns."];
        server.Model.ChunkDelay = TimeSpan.FromMilliseconds(250);
        await page.EvaluateAsync("""
            () => {
              window.shown = [];
              document.querySelector('#tutor-question').form.addEventListener('submit', () => { window.asked = performance.now(); }, { capture: true });
              new MutationObserver(() => {
                const bubble = [...document.querySelectorAll('#chat li.tutor')].pop();
                if (bubble) window.shown.push({ at: performance.now() - window.asked, text: bubble.textContent });
              }).observe(document.querySelector('#chat'), { childList: true, subtree: true, characterData: true });
            }
            """);
        var question = page.GetByLabel("Ask the tutor about this lab (it guides; it never gives flags)");
        var ask = page.GetByRole(AriaRole.Button, new() { Name = "Ask", Exact = true });
        await question.FillAsync("How do I find the number of columns?");
        await ask.ClickAsync();
        const string answer = "Close! The hash is [redacted]. Now try ORDER BY to count the columns.";
        await Expect(page.Locator("#chat li.tutor")).ToHaveTextAsync(answer);
        var shown = System.Text.Json.Nodes.JsonNode.Parse(await page.EvaluateAsync<string>("JSON.stringify(window.shown)"))!.AsArray()
            .Select(e => (At: e!["at"]!.GetValue<double>(), Text: e["text"]!.GetValue<string>())).ToList();
        foreach (var piece in new[] { "5f4dcc3b", "5aa765d61d83", "27deb882cf99" })
        {
            Assert.DoesNotContain(shown, e => e.Text.Contains(piece, StringComparison.Ordinal));
        }

        var firstWords = shown.First(e => e.Text.Length > 1);
        var whole = shown.First(e => e.Text == answer);
        Assert.True(shown.Select(e => e.Text).Distinct().Count() >= 5, string.Join(" | ", shown.Select(e => e.Text).Distinct()));
        Assert.True(whole.At - firstWords.At >= 1000, $"first words at {firstWords.At:F0} ms, the whole answer at {whole.At:F0} ms");
        output.WriteLine($"tutor on the page: first words {firstWords.At:F0} ms after Ask, the whole answer {whole.At:F0} ms ({server.Model.Chunks.Count} pieces, 250 ms apart)");
        server.Model.ChunkDelay = TimeSpan.Zero;
        await question.FillAsync("And then?");
        await ask.ClickAsync();
        await Expect(page.Locator("#chat li.tutor")).ToHaveCountAsync(2);
        await question.FillAsync("One more?");
        await ask.ClickAsync();
        await Expect(page.Locator("#alert")).ToContainTextAsync("You have asked the tutor 2 questions today");
        await Expect(page.Locator("#chat li.me")).ToHaveCountAsync(3);
        await Expect(page.Locator("#chat li.tutor")).ToHaveCountAsync(2);
        await AssertAccessibleAsync(page, "running lab");
        await server.ScreenshotAsync(page, "06-tutor");

        // The operator sees both instances and force stops the other learner's.
        var ops = await server.OpenAsync();
        await ops.GetByLabel("Name to show").FillAsync("Operator");
        await ops.GetByRole(AriaRole.Button, new() { Name = "Get an operator token" }).ClickAsync();
        await ops.GetByRole(AriaRole.Button, new() { Name = "Operator", Exact = true }).ClickAsync();
        var otherRow = ops.Locator($"tr[data-instance='{otherId}']");
        await Expect(otherRow).ToContainTextAsync("OWASP Juice Shop");
        await Expect(otherRow.Locator("td").Nth(1)).ToHaveTextAsync("learner");
        await Expect(otherRow).ToContainTextAsync("running");
        await Expect(otherRow).ToContainTextAsync("$0.027");
        await Expect(ops.Locator("#ops-instances tbody tr")).ToHaveCountAsync(2);
        // Juice Shop's VM ($0.027) and both of the reset DVWA lab's VMs ($0.007 each).
        await Expect(ops.Locator("#ops-summary")).ToHaveTextAsync("2 live · $0.041 of VM time so far");
        await Expect(ops.Locator("#ops-instances tbody")).ToContainTextAsync("DVWA: SQL injection");
        await Expect(ops.Locator("#ops-chart svg rect")).ToHaveCountAsync(61);
        // A pool that boots nothing (min 0) shows with its settings.
        var pool = await server.SendAsync(HttpMethod.Put, $"/api/admin/labs/{ServerFixture.CryptoLab}/pool", server.Token(Guid.NewGuid(), admin: true), """{"min": 0, "max": 1}""");
        Assert.Equal(System.Net.HttpStatusCode.OK, pool.Status);
        await ops.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();
        var poolRow = ops.Locator("#ops-pools tbody tr");
        await Expect(poolRow.Locator("td").Nth(0)).ToHaveTextAsync("Cryptography: padding oracle");
        await Expect(poolRow.Locator("td").Nth(1)).ToHaveTextAsync("0–1");
        await Expect(poolRow.Locator("td").Nth(4)).ToHaveTextAsync("0 (and 0 cold)");
        await Expect(poolRow.Locator("td").Nth(6)).ToHaveTextAsync("$0.000");
        // Each instance's agent: its figures and whether it reports.
        await Expect(otherRow.Locator("td.agent")).ToHaveTextAsync("ok");
        await Expect(otherRow.Locator("td").Nth(8)).ToHaveTextAsync(new Regex(@"^\d+\.\d %$"));
        // The catalog: each lab's version and live instances; the editor saves only what its dry run passed.
        var cryptoRow = ops.Locator($"tr[data-lab='{ServerFixture.CryptoLab}']");
        await Expect(cryptoRow.Locator("td").Nth(2)).ToHaveTextAsync("v1");
        await Expect(ops.Locator($"tr[data-lab='{ServerFixture.JuiceShopLab}'] td").Nth(3)).ToHaveTextAsync("1");
        await cryptoRow.GetByRole(AriaRole.Button, new() { Name = "Edit Cryptography: padding oracle" }).ClickAsync();
        var editor = ops.GetByLabel("Lab definition (JSON)");
        await Expect(editor).ToHaveValueAsync(new Regex("\"slug\": \"crypto-padding-oracle\""));
        var definition = await editor.InputValueAsync();
        await editor.FillAsync(definition.Replace("\"timeoutMinutes\": 90", "\"timeoutMinutes\": 2", StringComparison.Ordinal));
        await ops.GetByRole(AriaRole.Button, new() { Name = "Check (dry run)" }).ClickAsync();
        await Expect(ops.Locator("#catalog-problems")).ToContainTextAsync("timeoutMinutes: must be 5..1440");
        await Expect(ops.Locator("#catalog-save")).ToBeDisabledAsync();
        await editor.FillAsync(definition.Replace("\"timeoutMinutes\": 90", "\"timeoutMinutes\": 80", StringComparison.Ordinal));
        await ops.GetByRole(AriaRole.Button, new() { Name = "Check (dry run)" }).ClickAsync();
        await Expect(ops.Locator("#catalog-user-data")).ToContainTextAsync("docker run");
        await ops.Locator("#catalog-save").ClickAsync();
        await Expect(cryptoRow.Locator("td").Nth(2)).ToHaveTextAsync("v2");
        Assert.Equal(80, await server.Db.ScalarAsync<int>($"SELECT timeout_minutes FROM labs WHERE id = '{ServerFixture.CryptoLab}'"));
        await AssertAccessibleAsync(ops, "operator");
        await server.ScreenshotAsync(ops, "07-operator");
        await otherRow.GetByRole(AriaRole.Button, new() { Name = $"Force stop instance {otherId[..8]}" }).ClickAsync();
        await server.WaitForStatusAsync(otherId, otherToken, LabInstanceStatus.Stopped);
        await Expect(otherRow).ToHaveCountAsync(0);
        await Expect(ops.Locator("#ops-instances tbody tr")).ToHaveCountAsync(1);
        await Expect(ops.Locator("#ops-summary")).ToHaveTextAsync("1 live · $0.014 of VM time so far");
        var learnerId = await ops.Locator("#ops-instances tbody tr").GetAttributeAsync("data-instance");
        // Another team's VM under our tag: reconciliation says it saw it and left it alone.
        var foreign = await ForeignVms.CreateAsync(server.Emulator.ApiBase, server.Emulator.ApiKey, "web-frontend", "labmanager");
        await ops.GetByRole(AriaRole.Button, new() { Name = "Run now" }).ClickAsync();
        await Expect(ops.Locator("#ops-runs tbody tr").First).ToContainTextAsync(new Regex("(nothing to repair|destroyed|ended|vanished|lost|resent).*; 1 VM not ours left alone"));
        Assert.Contains((await server.Emulator.InspectAsync()).Vms, v => v.Id == foreign);
        await server.Emulator.RemoveAsync(foreign);
        await server.ScreenshotAsync(ops, "08-force-stopped");

        // The learner stops the lab and sees it end.
        await page.GetByRole(AriaRole.Button, new() { Name = "Stop" }).ClickAsync();
        await Expect(page.Locator("#session")).ToContainTextAsync("This session ended: stopped.", new() { Timeout = 60_000 });
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Start again" })).ToBeVisibleAsync();
        await server.ScreenshotAsync(page, "09-stopped");
        Assert.True(await page.EvaluateAsync<bool>("() => window.notReloaded === true"));
        await server.AssertNoVmLeftAsync([learnerId!, otherId]);
        Assert.Empty(server.PageProblems);
    }

    [Fact]
    public async Task The_page_works_by_keyboard_at_390_px_meets_wcag_aa_and_explains_a_refused_or_expired_token()
    {
        var page = await server.OpenAsync(390, 844);
        // As a deployment without the tutor describes itself (this server has one).
        await page.RouteAsync("**/api/features", route => route.FulfillAsync(new() { ContentType = "application/json", Body = """{"success":true,"data":{"devTokens":true,"tutor":false}}""" }));
        await page.ReloadAsync();
        await AssertAccessibleAsync(page, "sign-in");

        // A token that expires signs the learner out with a sentence saying so.
        await page.GetByLabel("API token (a JWT from your platform)").FillAsync(server.Tokens.MintDevToken(Guid.NewGuid(), "Brief", false, TimeSpan.FromSeconds(3)));
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in with this token" }).ClickAsync();
        await Expect(page.Locator("#account")).ToContainTextAsync("Brief");
        await Expect(page.Locator("#alert")).ToHaveTextAsync(new Regex("^Your token has expired. Sign in again."), new() { Timeout = 10_000 });
        await Expect(page.Locator("#signin")).ToBeVisibleAsync();

        var valid = server.Token(Guid.NewGuid());
        await page.GetByLabel("API token (a JWT from your platform)").FillAsync(valid[..^6] + "AAAAAA");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in with this token" }).ClickAsync();
        await Expect(page.Locator("#alert")).ToContainTextAsync("The server refused this token");
        await Expect(page.Locator("#signin")).ToBeVisibleAsync();

        // Keyboard only: Tab to the development sign-in, Enter, then Tab to a lab and open it.
        await TabToAsync(page, "Get a learner token");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Labs", Exact = true })).ToBeVisibleAsync();
        await TabToAsync(page, "Open");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("#lab-detail h2")).ToBeFocusedAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Start lab" })).ToBeVisibleAsync();
        await Expect(page.Locator("#tutor-off")).ToHaveTextAsync("The AI tutor is not enabled on this server (it needs a Tutor:Provider). Everything else works without it.");

        Assert.True(await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth") <= 390, "the page scrolls sideways at 390 px");
        await AssertAccessibleAsync(page, "learner");
        await server.ScreenshotAsync(page, "10-lab-at-390px");

        var ops = await server.OpenAsync(390, 844);
        await ops.GetByRole(AriaRole.Button, new() { Name = "Get an operator token" }).ClickAsync();
        await ops.GetByRole(AriaRole.Button, new() { Name = "Operator", Exact = true }).ClickAsync();
        await Expect(ops.Locator("#ops-chart svg")).ToBeVisibleAsync();
        Assert.True(await ops.EvaluateAsync<int>("() => document.documentElement.scrollWidth") <= 390, "the operator view scrolls sideways at 390 px: " + await ops.EvaluateAsync<string>("() => [...document.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > 390).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 12).join(', ')"));
        await AssertAccessibleAsync(ops, "operator");
        await server.ScreenshotAsync(ops, "11-operator-at-390px");
        Assert.Empty(server.PageProblems);
    }

    /// <summary>Presses Tab until the focused element's text is <paramref name="text"/>.</summary>
    private static async Task TabToAsync(IPage page, string text)
    {
        for (var i = 0; i < 30; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await page.EvaluateAsync<string>("() => document.activeElement?.textContent?.trim() ?? ''") == text)
            {
                return;
            }
        }

        Assert.Fail($"\"{text}\" cannot be reached with the Tab key");
    }

    /// <summary>axe-core finds no WCAG 2 A/AA violation (labels, names, contrast, …).</summary>
    private static async Task AssertAccessibleAsync(IPage page, string view)
    {
        var result = await page.RunAxe(new AxeRunOptions { RunOnly = new RunOnlyOptions { Type = "tag", Values = ["wcag2a", "wcag2aa"] } });
        Assert.True(result.Violations.Length == 0, $"{view}: " + string.Join("; ", result.Violations.Select(v => $"{v.Id}: {v.Help} ({string.Join(", ", v.Nodes.Select(n => n.Html))})")));
    }
}
