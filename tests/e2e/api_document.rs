//! The API document as a client generator finds it: served by the gateway, byte for byte
//! the checked-in file.

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
