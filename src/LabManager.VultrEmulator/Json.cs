using System.Text.Json;

namespace LabManager.VultrEmulator;

/// <summary>Vultr's wire shapes (snake_case).</summary>
internal static class Json
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static IResult Error(int status, string message) =>
        Results.Json(new { error = message, status }, Options, statusCode: status);

    public static IResult Ok(object body, int status = 200) => Results.Json(body, Options, statusCode: status);

    /// <summary>A time as Vultr writes it, in the account's offset: <c>2024-12-02T10:19:45-05:00</c>.</summary>
    public static string AccountTime(DateTimeOffset at, string offset) =>
        at.ToOffset(TimeSpan.Parse(offset.TrimStart('+'), System.Globalization.CultureInfo.InvariantCulture))
            .ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture);

    public static object Instance(Vm vm, VmState s, string offset, bool withPassword = false)
    {
        var ip = s.IpAssigned ? vm.MainIp : "0.0.0.0";
        var plan = Catalog.Plans.First(p => p.Id == vm.Plan);
        var body = new Dictionary<string, object?>
        {
            ["id"] = vm.Id,
            ["os"] = "Ubuntu 22.04 LTS x64",
            ["ram"] = plan.Ram,
            ["disk"] = plan.Disk,
            ["main_ip"] = ip,
            ["vcpu_count"] = plan.VcpuCount,
            ["region"] = vm.Region,
            ["plan"] = vm.Plan,
            ["date_created"] = AccountTime(vm.DateCreated, offset),
            ["status"] = s.Status,
            ["allowed_bandwidth"] = plan.Bandwidth,
            ["netmask_v4"] = s.IpAssigned ? "255.0.0.0" : "",
            ["gateway_v4"] = s.IpAssigned ? "127.0.0.1" : "0.0.0.0",
            ["power_status"] = s.PowerStatus,
            ["server_status"] = s.ServerStatus,
            ["v6_network"] = "",
            ["v6_main_ip"] = "",
            ["v6_network_size"] = 0,
            ["label"] = vm.Label,
            ["internal_ip"] = "",
            ["kvm"] = $"https://my.vultr.com/subs/vps/novnc/api.php?data={vm.Id}",
            ["hostname"] = vm.Hostname,
            ["tag"] = vm.Tags.FirstOrDefault() ?? "",
            ["tags"] = vm.Tags,
            ["os_id"] = vm.OsId,
            ["app_id"] = vm.AppId,
            ["image_id"] = vm.ImageId,
            ["firewall_group_id"] = vm.FirewallGroupId,
            ["features"] = Array.Empty<string>(),
            ["user_scheme"] = "root",
        };
        if (withPassword)
        {
            body["default_password"] = vm.DefaultPassword;
        }

        return body;
    }

    public static object Firewall(FirewallGroup g, int instanceCount) => new
    {
        id = g.Id,
        description = g.Description,
        date_created = g.DateCreated.ToString("yyyy-MM-dd'T'HH:mm:ss'+00:00'", System.Globalization.CultureInfo.InvariantCulture),
        date_modified = g.DateModified.ToString("yyyy-MM-dd'T'HH:mm:ss'+00:00'", System.Globalization.CultureInfo.InvariantCulture),
        instance_count = instanceCount,
        rule_count = g.Rules.Count,
        max_rule_count = FirewallGroup.MaxRules,
    };

    public static object Rule(FirewallRule r) => new
    {
        id = r.Id,
        type = r.IpType,
        ip_type = r.IpType,
        action = r.Action,
        protocol = r.Protocol,
        port = r.Port,
        subnet = r.Subnet,
        subnet_size = r.SubnetSize,
        source = r.Source,
        notes = r.Notes,
    };
}
