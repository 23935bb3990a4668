//! The API document as a client generator finds it: served by the gateway, byte for byte
//! the checked-in file; and as a person reads it, at `/docs`.

use reqwest::StatusCode;

use crate::support::Gateway;

#[tokio::test]
async fn the_served_document_is_the_checked_in_file() {
    let gw = Gateway::start("e2e-openapi", &[]);
    let resp = gw
        .http()
        .get(format!("{}/openapi.json", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let served = resp.text().await.unwrap();
    assert!(
        served == include_str!("../../schemas/openapi.json"),
        "GET /openapi.json differs from schemas/openapi.json; run `switchboard schemas`"
    );
}

/// `/docs`: the reference page and every file it links, served from the binary (byte for
/// byte the vendored copies) under a policy that names no other origin, with caching
/// headers that let a browser keep the versioned files and revalidate the rest.
#[tokio::test]
async fn the_reference_page_is_served_from_the_binary_under_a_strict_policy() {
    let gw = Gateway::start("e2e-docs", &[]);
    let get = |path: String, etag: Option<String>| {
        let mut req = gw.http().get(format!("{}{path}", gw.url));
        if let Some(tag) = etag {
            req = req.header("if-none-match", tag);
        }
        req.send()
    };
    let page = get("/docs".into(), None).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert_eq!(
        csp,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-cache");
    let etag = headers["etag"].to_str().unwrap().to_string();
    let html = page.text().await.unwrap();
    assert_eq!(
        html.as_bytes(),
        include_bytes!("../../crates/api/static/docs.html")
    );
    // Revalidation: the same page is a 304 with no body.
    let again = get("/docs".into(), Some(etag.clone())).await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());

    // Every file the page links, relative to /docs, served as vendored.
    let vendored: [(&str, &[u8]); 3] = [
        (
            "swagger-ui-bundle.js",
            include_bytes!("../../crates/api/static/swagger-ui/swagger-ui-bundle.js"),
        ),
        (
            "swagger-ui.css",
            include_bytes!("../../crates/api/static/swagger-ui/swagger-ui.css"),
        ),
        ("docs.js", include_bytes!("../../crates/api/static/docs.js")),
    ];
    let links: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("docs/"))
        .collect();
    assert_eq!(links.len(), 3, "{links:?}");
    for link in links {
        let resp = get(format!("/{link}"), None).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{link}");
        let headers = resp.headers().clone();
        let immutable = link.contains("/swagger-ui/5.36.0/");
        assert_eq!(
            headers["cache-control"],
            if immutable {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            },
            "{link}"
        );
        let expected_type = if link.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            "text/javascript; charset=utf-8"
        };
        assert_eq!(headers["content-type"], expected_type, "{link}");
        assert_eq!(headers["content-security-policy"], csp);
        let body = resp.bytes().await.unwrap();
        let (_, bytes) = vendored
            .iter()
            .find(|(name, _)| link.ends_with(name))
            .unwrap_or_else(|| panic!("{link} is not a vendored file"));
        assert!(
            body.as_ref() == *bytes,
            "{link} differs from its vendored copy"
        );
    }
    // The licence travels with the code it covers.
    let licence = get("/docs/swagger-ui/5.36.0/LICENSE".into(), None)
        .await
        .unwrap();
    assert_eq!(licence.status(), StatusCode::OK);
    assert!(licence.text().await.unwrap().contains("Apache License"));

    let slash = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/docs/", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(slash.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(slash.headers()["location"], "/docs");
    let missing = get("/docs/swagger-ui/5.36.0/missing.js".into(), None)
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

/// The contract test (`tests/contract/run`): schemathesis runs every phase and every check
/// against a sandbox gateway and finds nothing, then a client generated from the document
/// sends, reads and lists. Its Python tools come from PyPI into `target/contract-venv` on
/// the first run.
#[test]
fn the_gateway_keeps_its_documented_contract() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = std::process::Command::new("bash")
        .arg(format!("{root}/tests/contract/run"))
        .env("SWITCHBOARD_BIN", crate::support::bin())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Schemathesis's own deprecation warnings are noise; its findings are at the end of
    // stdout, which goes last so a log cut short from the top still shows them.
    let stderr: String = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.contains("Warning") && !l.trim_start().starts_with("value"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        out.status.success(),
        "tests/contract/run failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
    // The summary, for `--nocapture` and for the closing note.
    for line in stdout.lines().filter(|l| {
        l.contains("generated,") || l.starts_with("generated client:") || l.contains("Tested:")
    }) {
        println!("{line}");
    }
}
