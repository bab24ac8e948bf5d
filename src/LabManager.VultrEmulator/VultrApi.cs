using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LabManager.VultrEmulator;

/// <summary>The <c>/v2</c> subset of the Vultr API: instances, firewalls, plans, regions.</summary>
internal static class VultrApi
{
    private static readonly string[] BootKeys = ["os_id", "snapshot_id", "image_id", "app_id", "iso_id"];
    private static readonly string[] RegionOptions = ["ddos_protection"];

    public static void Map(WebApplication app)
    {
        var v2 = app.MapGroup("/v2");
        v2.MapPost("/instances", CreateInstance);
        v2.MapGet("/instances", ListInstances);
        v2.MapGet("/instances/{id}", (string id, Cloud cloud) =>
            cloud.Get(id) is { } vm ? Json.Ok(new { instance = cloud.Show(vm) }) : NotFound());
        // As Vultr answers it: the user_data the VM was created with, base64.
        v2.MapGet("/instances/{id}/user-data", (string id, Cloud cloud) =>
            cloud.Get(id) is { } vm ? Json.Ok(new { user_data = new { data = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(vm.UserData)) } }) : NotFound());
        v2.MapDelete("/instances/{id}", (string id, Cloud cloud, LabApps apps) =>
        {
            switch (cloud.Delete(id))
            {
                case DeleteOutcome.NotFound:
                    return NotFound();
                case DeleteOutcome.Locked:
                    return Json.Error(500, "Unable to destroy server: Unable to remove VM: Server is currently locked");
            }

            apps.Stop(id);
            return Results.NoContent();
        });
        v2.MapPost("/instances/{id}/reboot", (string id, Cloud cloud) => Lifecycle(cloud, id, LifecycleEvent.Rebooted));
        v2.MapPost("/instances/{id}/start", (string id, Cloud cloud) => Lifecycle(cloud, id, LifecycleEvent.Started));
        v2.MapPost("/instances/{id}/halt", (string id, Cloud cloud) => Lifecycle(cloud, id, LifecycleEvent.Halted));
        v2.MapPost("/instances/{id}/reinstall", ReinstallInstance);

        v2.MapPost("/firewalls", CreateFirewall);
        v2.MapGet("/firewalls", (Cloud cloud, int? per_page, string? cursor) =>
        {
            lock (cloud.FirewallLock)
            {
                var all = cloud.Firewalls.Values.OrderBy(g => g.DateCreated).Select(g => Json.Firewall(g, FirewallUse(cloud, g.Id))).ToList();
                return Page("firewall_groups", all, per_page, cursor);
            }
        });
        v2.MapGet("/firewalls/{id}", (string id, Cloud cloud) =>
        {
            lock (cloud.FirewallLock)
            {
                return cloud.Firewalls.TryGetValue(id, out var g) ? Json.Ok(new { firewall_group = Json.Firewall(g, FirewallUse(cloud, id)) }) : NotFound();
            }
        });
        v2.MapDelete("/firewalls/{id}", (string id, Cloud cloud) =>
        {
            lock (cloud.FirewallLock)
            {
                return cloud.Firewalls.Remove(id) ? Results.NoContent() : NotFound();
            }
        });
        v2.MapPost("/firewalls/{id}/rules", CreateFirewallRule);
        v2.MapGet("/firewalls/{id}/rules", (string id, Cloud cloud, int? per_page, string? cursor) =>
        {
            lock (cloud.FirewallLock)
            {
                return cloud.Firewalls.TryGetValue(id, out var g)
                    ? Page("firewall_rules", g.Rules.Select(Json.Rule).ToList(), per_page, cursor)
                    : NotFound();
            }
        });
        v2.MapDelete("/firewalls/{id}/rules/{ruleId:int}", (string id, int ruleId, Cloud cloud) =>
        {
            lock (cloud.FirewallLock)
            {
                return cloud.Firewalls.TryGetValue(id, out var g) && g.Rules.RemoveAll(r => r.Id == ruleId) > 0 ? Results.NoContent() : NotFound();
            }
        });

        v2.MapGet("/plans", (int? per_page, string? cursor) => Page("plans", Catalog.Plans.Select(p => (object)new
        {
            id = p.Id,
            vcpu_count = p.VcpuCount,
            ram = p.Ram,
            disk = p.Disk,
            disk_count = 1,
            bandwidth = p.Bandwidth,
            monthly_cost = p.MonthlyCost,
            hourly_cost = p.HourlyCost,
            type = "vc2",
            locations = p.Locations,
        }).ToList(), per_page, cursor));
        v2.MapGet("/os", (int? per_page, string? cursor) => Page("os", Catalog.OperatingSystems.Select(o => (object)new
        {
            id = o.Id,
            name = o.Name,
            arch = o.Arch,
            family = o.Family,
        }).ToList(), per_page, cursor));
        v2.MapGet("/applications", (string? type, int? per_page, string? cursor) => Page("applications", Catalog.Applications
            .Where(a => type is null or "all" || a.Type == type)
            .Select(a => (object)new
            {
                id = a.Id,
                name = a.Name,
                short_name = a.ShortName,
                deploy_name = a.DeployName,
                type = a.Type,
                vendor = a.Vendor,
                image_id = a.ImageId,
            }).ToList(), per_page, cursor));
        v2.MapGet("/snapshots", (int? per_page, string? cursor) => Page("snapshots", [.. Catalog.SnapshotIds.Select(id => (object)new { id })], per_page, cursor));
        v2.MapGet("/regions", (int? per_page, string? cursor) => Page("regions", Catalog.Regions.Select(r => (object)new
        {
            id = r.Id,
            city = r.City,
            country = r.Country,
            continent = r.Continent,
            options = RegionOptions,
        }).ToList(), per_page, cursor));
    }

    private static IResult NotFound() => Json.Error(404, "Not found");

    private static IResult Lifecycle(Cloud cloud, string id, LifecycleEvent e)
    {
        if (cloud.Get(id) is not { } vm)
        {
            return NotFound();
        }

        cloud.SetLifecycle(vm, e);
        return Results.NoContent();
    }

    private static async Task<IResult> CreateInstance(HttpContext http, Cloud cloud)
    {
        if (await ReadBody(http) is not { } body)
        {
            return Json.Error(400, "Invalid JSON body.");
        }

        var region = Str(body, "region");
        var plan = Str(body, "plan");
        if (string.IsNullOrEmpty(region) || Catalog.Regions.All(r => r.Id != region))
        {
            return Json.Error(400, "Invalid region.");
        }

        if (string.IsNullOrEmpty(plan) || Catalog.Plans.All(p => p.Id != plan))
        {
            return Json.Error(400, "Invalid plan.");
        }

        if (Catalog.Plans.First(p => p.Id == plan).Locations is var locations && !locations.Contains(region))
        {
            // Vultr's answer to a plan that exists but is not sold in the region.
            return Json.Error(400, "Invalid plan chosen.");
        }

        var sources = BootKeys.Where(k => !string.IsNullOrEmpty(Str(body, k)) && Str(body, k) != "0").ToList();
        if (sources.Count == 0)
        {
            return Json.Error(400, "You must choose an OS (os_id), snapshot, image, app or ISO.");
        }

        if (sources.Count > 1)
        {
            return Json.Error(400, $"Only one of os_id, snapshot_id, image_id, app_id or iso_id may be given, not {string.Join(" and ", sources)}.");
        }

        var osId = Int(body, "os_id");
        var imageId = Str(body, "image_id") ?? "";
        var appId = Int(body, "app_id") ?? 0;
        var refusal = sources[0] switch
        {
            "os_id" when osId is not { } os || Catalog.OperatingSystems.All(o => o.Id != os) => "Invalid operating system.",
            "image_id" when Catalog.Applications.All(a => a.Type != "marketplace" || a.ImageId != imageId) => "Invalid image_id.",
            "app_id" when Catalog.Applications.All(a => a.Type != "one-click" || a.Id != appId) => "Invalid app_id.",
            "snapshot_id" when !Catalog.SnapshotIds.Contains(Str(body, "snapshot_id")!) => "Invalid snapshot_id.",
            "iso_id" => "Invalid iso_id.",
            _ => null,
        };
        if (refusal is not null)
        {
            return Json.Error(400, refusal);
        }

        var firewall = Str(body, "firewall_group_id") ?? "";
        if (firewall.Length > 0)
        {
            lock (cloud.FirewallLock)
            {
                if (!cloud.Firewalls.ContainsKey(firewall))
                {
                    return Json.Error(400, "Invalid firewall group.");
                }
            }
        }

        string userData;
        try
        {
            userData = Cloud.DecodeUserData(Str(body, "user_data") ?? "");
        }
        catch (FormatException)
        {
            return Json.Error(400, "user_data must be base64 encoded.");
        }

        var tags = body.TryGetProperty("tags", out var t) && t.ValueKind == JsonValueKind.Array
            ? t.EnumerateArray().Select(x => x.GetString() ?? "").Where(x => x.Length > 0).ToList()
            : Str(body, "tag") is { Length: > 0 } single ? [single] : [];
        var label = Str(body, "label") ?? "";
        var source = new BootSource(osId ?? (imageId.Length > 0 ? 186 : appId > 0 ? 186 : 0), imageId, appId);
        var vm = cloud.Create(label, Str(body, "hostname") ?? label, region, plan, source, tags, userData);
        vm.FirewallGroupId = firewall;

        if (cloud.Strikes(cloud.Faults.LoseCreateAnswerRate))
        {
            // The VM exists, but the client never hears about it.
            cloud.Count("create_answer_lost");
            http.Abort();
            return Results.Empty;
        }

        return Json.Ok(new { instance = cloud.Show(vm, withPassword: true) }, 202);
    }

    private static IResult ListInstances(Cloud cloud, int? per_page, string? cursor, string? tag, string? label, string? main_ip, string? region)
    {
        var filters = cloud.Faults.Filters;
        bool Matches(string? wanted, string value) => wanted is null || filters switch
        {
            "ignore" => true,
            "contains" => value.Contains(wanted, StringComparison.OrdinalIgnoreCase),
            _ => value == wanted,
        };
        var vms = cloud.All()
            .Where(v => tag is null || v.Tags.Any(t => Matches(tag, t)) || filters == "ignore")
            .Where(v => Matches(label, v.Label))
            .Where(v => region is null || v.Region == region)
            .Select(v => (Vm: v, State: cloud.StateOf(v)))
            .Where(x => main_ip is null || (x.State.IpAssigned ? x.Vm.MainIp : "0.0.0.0") == main_ip)
            .Select(x => Json.Instance(x.Vm, x.State, cloud.Options.AccountOffset))
            .ToList();
        return Page("instances", vms, per_page, cursor);
    }

    private static async Task<IResult> ReinstallInstance(string id, HttpContext http, Cloud cloud, LabApps apps)
    {
        if (cloud.Get(id) is not { } vm)
        {
            return NotFound();
        }

        if (cloud.Options.RefuseWhileLocked && cloud.StateOf(vm).ServerStatus == "locked")
        {
            return Json.Error(500, "Unable to reinstall server: Server is currently locked");
        }

        if (await ReadBody(http, optional: true) is { } body && Str(body, "hostname") is { Length: > 0 } hostname)
        {
            vm.Hostname = hostname;
        }

        apps.Stop(id);
        cloud.SetLifecycle(vm, LifecycleEvent.Reinstalled);
        return Json.Ok(new { instance = cloud.Show(vm) }, 202);
    }

    private static async Task<IResult> CreateFirewall(HttpContext http, Cloud cloud)
    {
        var body = await ReadBody(http, optional: true);

        var now = cloud.Time.GetUtcNow();
        var group = new FirewallGroup
        {
            Id = Guid.NewGuid().ToString(),
            Description = body is { } b ? Str(b, "description") ?? "" : "",
            DateCreated = now,
            DateModified = now,
        };
        lock (cloud.FirewallLock)
        {
            cloud.Firewalls[group.Id] = group;
        }

        return Json.Ok(new { firewall_group = Json.Firewall(group, 0) }, 201);
    }

    private static async Task<IResult> CreateFirewallRule(string id, HttpContext http, Cloud cloud)
    {
        if (await ReadBody(http) is not { } body)
        {
            return Json.Error(400, "Invalid JSON body.");
        }

        var ipType = Str(body, "ip_type");
        var protocol = Str(body, "protocol");
        var subnet = Str(body, "subnet");
        var size = Int(body, "subnet_size");
        if (ipType is not ("v4" or "v6"))
        {
            return Json.Error(400, "ip_type must be v4 or v6.");
        }

        if (protocol is not ("icmp" or "tcp" or "udp" or "gre" or "esp" or "ah"))
        {
            return Json.Error(400, "Invalid protocol.");
        }

        if (!System.Net.IPAddress.TryParse(subnet, out var address) || (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) != (ipType == "v4") || size is null || size < 0 || size > (ipType == "v4" ? 32 : 128))
        {
            return Json.Error(400, "Invalid subnet.");
        }

        lock (cloud.FirewallLock)
        {
            if (!cloud.Firewalls.TryGetValue(id, out var group))
            {
                return NotFound();
            }

            if (group.Rules.Count >= FirewallGroup.MaxRules)
            {
                return Json.Error(400, "Firewall group has reached the maximum number of rules.");
            }

            var rule = new FirewallRule(group.NextRuleId(), ipType, "accept", protocol, Str(body, "port") ?? "", subnet, size.Value, Str(body, "source") ?? "", Str(body, "notes") ?? "");
            group.Rules.Add(rule);
            group.DateModified = cloud.Time.GetUtcNow();
            return Json.Ok(new { firewall_rule = Json.Rule(rule) }, 201);
        }
    }

    private static int FirewallUse(Cloud cloud, string groupId) => cloud.Live().Count(v => v.FirewallGroupId == groupId);

    /// <summary>Vultr's cursor paging: <c>meta.links.next</c> is passed back as <c>cursor</c>; empty = last page.</summary>
    private static IResult Page(string name, List<object> items, int? perPage, string? cursor)
    {
        var size = Math.Clamp(perPage ?? 100, 1, 500);
        var offset = 0;
        if (!string.IsNullOrEmpty(cursor))
        {
            try
            {
                var text = Encoding.UTF8.GetString(Convert.FromBase64String(cursor));
                offset = text.StartsWith("next__", StringComparison.Ordinal) || text.StartsWith("prev__", StringComparison.Ordinal)
                    ? int.Parse(text[6..], CultureInfo.InvariantCulture)
                    : throw new FormatException();
            }
            catch (FormatException)
            {
                return Json.Error(400, "Invalid cursor.");
            }
        }

        var page = items.Skip(offset).Take(size).ToList();
        var next = offset + size < items.Count ? Cursor("next__", offset + size) : "";
        var prev = offset > 0 ? Cursor("prev__", Math.Max(0, offset - size)) : "";
        return Json.Ok(new Dictionary<string, object>
        {
            [name] = page,
            ["meta"] = new { total = items.Count, links = new { next, prev } },
        });
    }

    private static string Cursor(string kind, int offset) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(kind + offset.ToString(CultureInfo.InvariantCulture)));

    /// <summary>The JSON object body; null when it is not one (or, if <paramref name="optional"/>, when there is none).</summary>
    private static async Task<JsonElement?> ReadBody(HttpContext http, bool optional = false)
    {
        using var reader = new StreamReader(http.Request.Body);
        var text = await reader.ReadToEndAsync();
        if (optional && string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        try
        {
            var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object ? doc.RootElement : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Str(JsonElement body, string name) =>
        body.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            _ => null,
        } : null;

    // Vultr clients send some numeric ids as strings: accept both.
    private static int? Int(JsonElement body, string name) =>
        int.TryParse(Str(body, name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;
}
