using LabManager.Api;
using LabManager.Api.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.Functions.Http;

/// <summary>Holds the durable client the Functions host binds to triggers, for the services that need one.</summary>
public sealed class DurableClientSlot
{
    public DurableTaskClient? Client { get; set; }
}

/// <summary>Runs an <see cref="ApiRoutes"/> route for an HTTP trigger through the API's own edge (<see cref="ApiHttp"/>), as the Server does.</summary>
internal static class FunctionsHttp
{
    public static async Task<IActionResult> RunAsync(string routeName, HttpRequest request, DurableTaskClient client)
    {
        request.HttpContext.RequestServices.GetRequiredService<DurableClientSlot>().Client ??= client;
        await ApiHttp.HandleAsync(request.HttpContext, ApiRoutes.All.Single(r => r.Name == routeName));
        return new EmptyResult();
    }
}
