using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LabManager.Api.Http;

/// <summary>What the OpenAPI document says of a route: its body, its envelope on success (data typed) and on every refusal.</summary>
public static class ApiShapes
{
    public static RouteHandlerBuilder WithApiShapes(this RouteHandlerBuilder endpoint, ApiRoute route)
    {
        if (route.Body is { } body)
        {
            endpoint.Accepts(body, isOptional: true, "application/json");
        }

        foreach (var status in route.Statuses)
        {
            var success = status is >= 200 and < 300;
            endpoint.Produces(status, success ? typeof(Envelope<>).MakeGenericType(route.Data ?? typeof(object)) : typeof(Envelope), "application/json");
        }

        return endpoint;
    }
}
