using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LabManager.Core.Instances;

namespace LabManager.Testing;

/// <summary>VMs that are not LabManager's, made in the emulated account through its API, as another team (or tool) would.</summary>
public static class ForeignVms
{
    /// <summary>Makes one VM; returns its id.</summary>
    public static async Task<string> CreateAsync(Uri apiBase, string apiKey, string label, params string[] tags)
    {
        using var api = new HttpClient { BaseAddress = apiBase };
        api.DefaultRequestHeaders.Authorization = new("Bearer", apiKey);
        using var response = await api.PostAsJsonAsync("instances", new { region = "ewr", plan = "vc2-1c-1gb", os_id = 1743, label, tags });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["instance"]!["id"]!.GetValue<string>();
    }

    /// <summary>
    /// What a real account holds beside ours: an untagged <c>lab-&lt;id&gt;</c>, a <c>lab-&lt;id&gt;</c> of another team's tag (both with
    /// <paramref name="instanceId"/>'s label), one of our tag with a foreign label, and another team's server.
    /// </summary>
    public static async Task<IReadOnlyList<string>> TypicalAsync(Uri apiBase, string apiKey, Guid instanceId) =>
    [
        await CreateAsync(apiBase, apiKey, LabInstance.VmLabel(instanceId)),
        await CreateAsync(apiBase, apiKey, LabInstance.VmLabel(instanceId), "team-b"),
        await CreateAsync(apiBase, apiKey, "web-frontend", "labmanager"),
        await CreateAsync(apiBase, apiKey, "prod-db", "prod"),
    ];
}
