// Renders the gateway's own API document with the vendored Swagger UI. A file of its own, not
// an inline script, because the page's Content-Security-Policy allows scripts from the
// gateway only. URLs are relative to the page, so a proxy that mounts the gateway under a
// prefix serves a working page.
"use strict";
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  // The default validator badge sends the document's URL to validator.swagger.io.
  validatorUrl: null,
  // The page shows this gateway's document only: no `?url=` or `?configUrl=` from the link.
  queryConfigEnabled: false,
  deepLinking: true,
  docExpansion: "list",
  filter: true,
  displayRequestDuration: true,
});
