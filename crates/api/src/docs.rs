//! `/docs`: a readable reference page for `/openapi.json`, rendered in the browser by a
//! vendored Swagger UI (`static/swagger-ui/`, see its `VENDORED.md`).
//!
//! Why Swagger UI: it is the best-known renderer that runs under a Content-Security-Policy
//! with no `'unsafe-inline'` and no `'unsafe-eval'` (it styles through the CSSOM, not through
//! injected `<style>` elements as Redoc's styled-components do), and it renders every text of
//! the document through React, which escapes it, or through its sanitised Markdown.
//!
//! Everything is compiled into the binary: the page needs no network, and an operator has
//! nothing to deploy beside the gateway. The vendored files sit under a path that carries
//! their version, so browsers may keep them for a year; the page and its small start-up
//! script are revalidated by `ETag` on every visit.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use switchboard_gateway::Gateway;

/// The vendored Swagger UI's version: part of its assets' URLs.
pub const SWAGGER_UI_VERSION: &str = "5.36.0";

/// The Content-Security-Policy of every `/docs` answer. Scripts, styles and fetches come from
/// the gateway only. `img-src data:` is for the icons Swagger UI's stylesheet carries inline
/// as `data:` URIs; a `data:` URI names no origin, so nothing is fetched for them.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// One file the page is made of.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    /// Under a versioned path: cached for a year and never revalidated.
    pub immutable: bool,
}

macro_rules! vendored {
    ($file:literal, $type:literal) => {
        Asset {
            path: concat!("/docs/swagger-ui/5.36.0/", $file),
            content_type: $type,
            bytes: include_bytes!(concat!("../static/swagger-ui/", $file)),
            immutable: true,
        }
    };
}

/// Every file under `/docs`, the page first.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "/docs",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../static/docs.html"),
        immutable: false,
    },
    Asset {
        path: "/docs/docs.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/docs.js"),
        immutable: false,
    },
    vendored!("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    vendored!("swagger-ui.css", "text/css; charset=utf-8"),
    vendored!("LICENSE", "text/plain; charset=utf-8"),
    vendored!("NOTICE", "text/plain; charset=utf-8"),
    vendored!(
        "swagger-ui-bundle.js.LICENSE.txt",
        "text/plain; charset=utf-8"
    ),
];

/// The `/docs` routes.
pub fn routes() -> Router<Arc<Gateway>> {
    let mut router = Router::new();
    for (index, asset) in ASSETS.iter().enumerate() {
        router = router.route(
            asset.path,
            get(move |headers: HeaderMap| async move { serve(index, &headers) }),
        );
    }
    // The page's links are relative to `/docs`; from `/docs/` they would miss.
    router.route("/docs/", get(|| async { Redirect::permanent("/docs") }))
}

fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{}\"", &hex::encode(Sha256::digest(a.bytes))[..32]))
            .collect()
    })
}

fn serve(index: usize, request: &HeaderMap) -> Response {
    let asset = &ASSETS[index];
    let etag = &etags()[index];
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if asset.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_links_only_served_assets_and_the_document() {
        let page = std::str::from_utf8(ASSETS[0].bytes).unwrap();
        let links: Vec<&str> = page
            .split(['"', '\''])
            .filter(|s| s.starts_with("docs/") || s.ends_with(".json"))
            .collect();
        assert!(links.len() >= 3, "{links:?}");
        for link in links {
            let path = format!("/{link}");
            assert!(
                path == "/openapi.json" || ASSETS.iter().any(|a| a.path == path),
                "{link} is not served"
            );
        }
        assert!(!page.contains("http:") && !page.contains("https:"));
    }

    #[test]
    fn vendored_paths_carry_the_vendored_version() {
        let notes = include_str!("../static/swagger-ui/VENDORED.md");
        assert!(notes.starts_with(&format!("# swagger-ui-dist {SWAGGER_UI_VERSION}")));
        for asset in ASSETS.iter().filter(|a| a.immutable) {
            assert!(
                asset
                    .path
                    .starts_with(&format!("/docs/swagger-ui/{SWAGGER_UI_VERSION}/")),
                "{}",
                asset.path
            );
        }
        let bundle = ASSETS
            .iter()
            .find(|a| a.path.ends_with("swagger-ui-bundle.js"))
            .unwrap();
        let version = format!("PACKAGE_VERSION:\"{SWAGGER_UI_VERSION}\"");
        assert!(
            bundle
                .bytes
                .windows(version.len())
                .any(|w| w == version.as_bytes())
        );
    }
}
