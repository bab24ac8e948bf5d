using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace LabManager.Api.Http;

/// <summary>What the OpenAPI document says of a route: its body, its envelope on success (data typed) and on every refusal.</summary>
public static class ApiShapes
{
    /// <summary>The route's body type, for the document only: unlike <c>Accepts</c>, it makes the router refuse no content type.</summary>
    public sealed record BodyShape(Type Type);

    public static RouteHandlerBuilder WithApiShapes(this RouteHandlerBuilder endpoint, ApiRoute route)
    {
        if (route.Body is { } body)
        {
            endpoint.WithMetadata(new BodyShape(body));
        }

        foreach (var status in route.Statuses)
        {
            var success = status is >= 200 and < 300;
            endpoint.Produces(status, success ? typeof(Envelope<>).MakeGenericType(route.Data ?? typeof(object)) : typeof(Envelope), "application/json");
        }

        if (route.Streams)
        {
            endpoint.WithDescription("With Accept: text/event-stream, the answer is server-sent events as it is produced: "
                + "delta {text}, then done (the success answer's data) or error {message}. Refusals are JSON either way.");
        }

        return endpoint;
    }

    /// <summary>The OpenAPI document, each route's <see cref="BodyShape"/> written as its JSON request body.</summary>
    public static IServiceCollection AddLabOpenApi(this IServiceCollection services) => services.AddOpenApi(o => o.AddOperationTransformer(async (operation, context, ct) =>
    {
        if (context.Description.ActionDescriptor.EndpointMetadata.OfType<BodyShape>().FirstOrDefault() is { } body)
        {
            var schema = await context.GetOrCreateSchemaAsync(body.Type, null, ct);
            operation.RequestBody = new OpenApiRequestBody { Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = schema } } };
        }
    }));
}
