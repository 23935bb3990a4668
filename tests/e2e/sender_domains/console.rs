//! Sender domains in the console.

use reqwest::StatusCode;

use super::{create, record, validate};
use crate::support::Gateway;

/// The console's connections page lists each sender domain with the records to publish and
/// the provider's reasons, escaped.
#[tokio::test]
async fn the_console_shows_each_domain_with_its_records() {
    let gw = Gateway::start("sender-domains-console", &[]);
    let mut b = crate::console::sign_in_sandbox(&gw, "admin").await;
    let page = b.get("/console/connections").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("id=\"sender-domains-none\""),
        "{}",
        page.body
    );

    let d = create(&gw, "example.com").await;
    let id = d["id"].as_str().unwrap();
    validate(&gw, id).await;
    let page = b.get("/console/connections").await;
    assert_eq!(page.status, StatusCode::OK);
    let host = record(&d, "mail_cname")["host"].as_str().unwrap();
    for shown in [
        id,
        "example.com",
        "pending",
        host,
        "s2._domainkey.example.com",
    ] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    // SendGrid's reason quotes the host: the quotes are escaped, not written raw.
    assert!(
        page.body
            .contains(&format!("Expected CNAME for &#34;{host}&#34; to match")),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(&format!("for \"{host}\"")),
        "{}",
        page.body
    );
}
