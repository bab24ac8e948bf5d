using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using LabManager.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static LabManager.Server.Tests.ServerFixture;

namespace LabManager.Server.Tests;

/// <summary>The HTTP edge: JwtBearer's refusals, the token lifetime cap, a hub connection ending with its token, and CORS.</summary>
public sealed class EdgeTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task HubConnection_ClosesWhenItsTokenExpires()
    {
        var closed = new TaskCompletionSource<DateTimeOffset>(TaskCreationOptions.RunContinuationsAsynchronously);
        var token = server.Tokens.MintDevToken(Guid.NewGuid(), null, admin: false, TimeSpan.FromSeconds(3));
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.Http.BaseAddress!, "/hubs/labs"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
            .Build();
        connection.Closed += _ => { closed.TrySetResult(DateTimeOffset.UtcNow); return Task.CompletedTask; };
        var opened = DateTimeOffset.UtcNow;
        await connection.StartAsync();

        var at = await closed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.InRange(at - opened, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(20));
        Assert.Equal(HubConnectionState.Disconnected, connection.State);
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task Token_LivingLongerThanTheCap_401()
    {
        var token = server.Tokens.MintDevToken(Guid.NewGuid(), null, admin: false, TimeSpan.FromHours(13));
        var (status, body, _) = await server.SendAsync(HttpMethod.Get, "/api/labs/instances/list", token);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("The token lives longer than 12 h", body["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Token_IsCheckedBeforeTheBody()
    {
        var oversize = $$"""{"timeoutOverride": 600000, "pad": "{{new string('x', 20_000)}}"}""";
        var (anonymous, body, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/{DvwaLab}/start", null, oversize);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous);
        Assert.Equal("A bearer token is required", body["message"]!.GetValue<string>());
        var (signedIn, _, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/{DvwaLab}/start", server.Token(Guid.NewGuid()), oversize);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, signedIn);
    }

    [Theory]
    [InlineData("/api/labs/" + DvwaLab + "/start")]
    [InlineData("/hubs/labs/negotiate?negotiateVersion=1")]
    public async Task Cors_ThePlatformsFrontend_MayCallApiAndHub(string path)
    {
        using var preflight = new HttpRequestMessage(HttpMethod.Options, path);
        preflight.Headers.Add("Origin", FrontendOrigin);
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        using var answer = await server.Http.SendAsync(preflight);

        Assert.Equal(HttpStatusCode.NoContent, answer.StatusCode);
        Assert.Equal(FrontendOrigin, answer.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("authorization", answer.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.OrdinalIgnoreCase);
        Assert.False(answer.Headers.Contains("Access-Control-Allow-Credentials"));
    }

    [Fact]
    public async Task Cors_AnotherOrigin_GetsNoCorsHeaders()
    {
        foreach (var origin in new[] { "https://evil.example.net", FrontendOrigin })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/labs");
            request.Headers.Add("Origin", origin);
            using var answer = await server.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal(origin == FrontendOrigin, answer.Headers.Contains("Access-Control-Allow-Origin"));
        }

        using var preflight = new HttpRequestMessage(HttpMethod.Options, $"/api/labs/{DvwaLab}/start");
        preflight.Headers.Add("Origin", "https://evil.example.net");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        using var refused = await server.Http.SendAsync(preflight);
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
    }
}

/// <summary>
/// An OIDC provider on loopback: discovery document and JWKS, with keys the test makes and rotates.
/// </summary>
public sealed class LocalOidcProvider : IAsyncDisposable
{
    private readonly WebApplication _app;
    private volatile RsaSecurityKey[] _keys;

    private LocalOidcProvider(WebApplication app, Uri authority, RsaSecurityKey key)
    {
        _app = app;
        Authority = authority;
        _keys = [key];
    }

    public Uri Authority { get; }

    public static RsaSecurityKey NewKey() => new(RSA.Create(2048)) { KeyId = Guid.NewGuid().ToString("N") };

    public static async Task<LocalOidcProvider> StartAsync()
    {
        var port = ProcessHost.FreePort();
        var authority = new Uri($"http://127.0.0.1:{port}/realm/");
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        var provider = new LocalOidcProvider(app, authority, NewKey());
        app.MapGet("/realm/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = authority.ToString().TrimEnd('/'),
            ["jwks_uri"] = new Uri(authority, "keys").ToString(),
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        }));
        app.MapGet("/realm/keys", () =>
        {
            var keys = provider._keys.Select(k =>
            {
                var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(k.Rsa.ExportParameters(false)) { KeyId = k.KeyId });
                return new Dictionary<string, string> { ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = jwk.Kid, ["n"] = jwk.N, ["e"] = jwk.E };
            });
            return Results.Json(new { keys });
        });
        await app.StartAsync();
        return provider;
    }

    /// <summary>The provider now publishes only <paramref name="key"/> (the old one is retired).</summary>
    public void Rotate(RsaSecurityKey key) => _keys = [key];

    public RsaSecurityKey CurrentKey => _keys[0];

    public string Token(RsaSecurityKey key, string subject, bool admin = false)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Authority.ToString().TrimEnd('/'),
            Audience = "labmanager-api",
            Claims = new Dictionary<string, object> { ["sub"] = subject, ["roles"] = admin ? new[] { "admin" } : Array.Empty<string>() },
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddMinutes(30),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A Server whose tokens come from <see cref="LocalOidcProvider"/> (no shared secret in play).</summary>
public sealed class OidcServerFixture : ServerFixture
{
    public LocalOidcProvider Provider { get; private set; } = null!;

    protected override IEnumerable<string> Settings => [.. base.Settings, $"Auth:Authority={Provider.Authority}", "Auth:Issuer=", "Auth:DevTokens=false"];

    public override async Task InitializeAsync()
    {
        Provider = await LocalOidcProvider.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Provider.DisposeAsync();
    }
}

public sealed class OidcTests(OidcServerFixture server) : IClassFixture<OidcServerFixture>
{
    private async Task<HttpStatusCode> ListAsync(string token) => (await server.SendAsync(HttpMethod.Get, "/api/labs/instances/list", token)).Status;

    [Fact]
    public async Task Tokens_FromTheAuthoritysKeys_WorkAcrossAKeyRotation()
    {
        var provider = server.Provider;
        var oldKey = provider.CurrentKey;
        var subject = "auth0|learner-" + Guid.NewGuid().ToString("N");
        Assert.Equal(HttpStatusCode.OK, await ListAsync(provider.Token(oldKey, subject)));

        var (operatorStatus, _, _) = await server.SendAsync(HttpMethod.Get, "/api/admin/instances", provider.Token(oldKey, subject, admin: true));
        Assert.Equal(HttpStatusCode.OK, operatorStatus);
        Assert.Equal(HttpStatusCode.Forbidden, (await server.SendAsync(HttpMethod.Get, "/api/admin/instances", provider.Token(oldKey, subject))).Status);

        // The provider rotates: a token signed with the new key is accepted once the JWKS is read again, without a restart.
        var newKey = LocalOidcProvider.NewKey();
        provider.Rotate(newKey);
        var fresh = provider.Token(newKey, subject);
        var accepted = false;
        for (var attempt = 0; attempt < 20 && !accepted; attempt++)
        {
            accepted = await ListAsync(fresh) == HttpStatusCode.OK;
            if (!accepted)
            {
                await Task.Delay(100);
            }
        }

        Assert.True(accepted, "a token signed with the rotated key was never accepted");
        Assert.Equal(HttpStatusCode.Unauthorized, await ListAsync(provider.Token(LocalOidcProvider.NewKey(), subject)));
    }
}
