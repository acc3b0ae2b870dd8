// Starts Swagger UI on the hub's merged document. Kept in a file of its own because the
// page's Content-Security-Policy runs no inline script.
window.addEventListener('DOMContentLoaded', () => {
  window.ui = window.SwaggerUIBundle({
    url: '/api/docs/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    docExpansion: 'list',
    tryItOutEnabled: false,
    displayRequestDuration: true,
    // swagger-ui-dist would otherwise offer to validate against a public web service
    validatorUrl: null,
  });
});
