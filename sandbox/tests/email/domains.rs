//! Domain Authentication (`/v3/whitelabel/domains`) answered from the simulated DNS, and
//! mail send's Sender Identity rule: a `from` on a domain goes out only while the domain's
//! last validation passed.

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_sandbox::SANDBOX_SENDGRID_API_KEY;

use crate::harness::{Sim, TO, mail};

impl Sim {
    fn api(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.handle.base_url()))
            .bearer_auth(SANDBOX_SENDGRID_API_KEY)
    }

    async fn dns(&self, method: Method, name: &str, body: Option<Value>) -> StatusCode {
        let mut req = self.http.request(
            method,
            format!("{}/_sandbox/dns/{name}", self.handle.base_url()),
        );
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap().status()
    }

    /// Publish every record SendGrid asked for, as a business would at its DNS host.
    async fn publish(&self, domain: &Value) {
        for (_, r) in domain["dns"].as_object().unwrap() {
            let status = self
                .dns(
                    Method::PUT,
                    r["host"].as_str().unwrap(),
                    Some(json!({"type": r["type"].as_str().unwrap().to_uppercase(), "value": r["data"]})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{r}");
        }
    }
}

fn from(email: &str) -> Value {
    let mut body = mail(TO);
    body["from"] = json!({"email": email, "name": "News"});
    body
}

const UNVERIFIED: &str = "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements";

#[tokio::test]
async fn a_domain_verifies_from_the_simulated_dns_and_covers_sends_only_while_valid() {
    let sim = Sim::start(None).await;

    // A from on no verified identity is refused as SendGrid refuses it.
    let resp = sim.send(&from("news@example.com")).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"errors": [{"message": UNVERIFIED, "field": "from", "help": null}]})
    );

    let resp = sim
        .api(Method::POST, "/v3/whitelabel/domains")
        .json(&json!({"domain": "Example.com", "automatic_security": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: Value = resp.json().await.unwrap();
    let id = created["id"].as_u64().unwrap();
    assert_eq!(created["domain"], "example.com");
    assert_eq!(created["valid"], false);
    assert_eq!(created["automatic_security"], true);
    for field in [
        "user_id",
        "username",
        "ips",
        "custom_spf",
        "default",
        "legacy",
    ] {
        assert!(created.get(field).is_some(), "{field}: {created}");
    }
    let sub = created["subdomain"].as_str().unwrap();
    assert!(sub.starts_with("em") && sub.len() == 6, "{created}");
    let dns = created["dns"].as_object().unwrap();
    let mut keys: Vec<_> = dns.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["dkim1", "dkim2", "mail_cname"]);
    assert_eq!(dns["mail_cname"]["host"], format!("{sub}.example.com"));
    assert_eq!(dns["dkim1"]["host"], "s1._domainkey.example.com");
    for r in dns.values() {
        assert_eq!(
            (r["type"].as_str(), r["valid"].as_bool()),
            (Some("cname"), Some(false))
        );
        assert!(
            r["data"].as_str().unwrap().ends_with(".sendgrid.net"),
            "{r}"
        );
    }

    // Nothing published yet: every record fails with SendGrid's reason.
    let check: Value = sim
        .api(
            Method::POST,
            &format!("/v3/whitelabel/domains/{id}/validate"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (check["id"].as_u64(), check["valid"].as_bool()),
        (Some(id), Some(false))
    );
    let cname = &check["validation_results"]["mail_cname"];
    assert_eq!(cname["valid"], false);
    assert_eq!(
        cname["reason"],
        format!(
            "Expected CNAME for \"{}\" to match \"{}\".",
            dns["mail_cname"]["host"].as_str().unwrap(),
            dns["mail_cname"]["data"].as_str().unwrap()
        )
    );

    sim.publish(&created).await;
    let check: Value = sim
        .api(
            Method::POST,
            &format!("/v3/whitelabel/domains/{id}/validate"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(check["valid"], true, "{check}");
    for r in check["validation_results"].as_object().unwrap().values() {
        assert_eq!(*r, json!({"valid": true, "reason": null}));
    }
    let shown: Value = sim
        .api(Method::GET, &format!("/v3/whitelabel/domains/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["valid"], true);
    assert_eq!(shown["dns"]["dkim2"]["valid"], true);
    // Any address on the domain is now a Sender Identity; other domains still are not.
    assert_eq!(
        sim.send(&from("news@example.com")).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        sim.send(&from("news@example.org")).await.status(),
        StatusCode::FORBIDDEN
    );

    // A record taken down fails the next validation, and the domain covers no more sends.
    let dkim_host = dns["dkim1"]["host"].as_str().unwrap();
    assert_eq!(
        sim.dns(Method::DELETE, dkim_host, None).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        sim.send(&from("news@example.com")).await.status(),
        StatusCode::ACCEPTED,
        "SendGrid goes by the last validation, not by the DNS of the moment"
    );
    let check: Value = sim
        .api(
            Method::POST,
            &format!("/v3/whitelabel/domains/{id}/validate"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(check["valid"], false);
    assert_eq!(check["validation_results"]["dkim1"]["valid"], false);
    assert_eq!(check["validation_results"]["mail_cname"]["valid"], true);
    assert_eq!(
        sim.send(&from("news@example.com")).await.status(),
        StatusCode::FORBIDDEN
    );

    // Listed, then deleted; an id SendGrid does not know is its 404.
    let all: Value = sim
        .api(Method::GET, "/v3/whitelabel/domains?domain=example.com")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);
    let del = sim
        .api(Method::DELETE, &format!("/v3/whitelabel/domains/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    for (method, path) in [
        (Method::GET, format!("/v3/whitelabel/domains/{id}")),
        (Method::DELETE, format!("/v3/whitelabel/domains/{id}")),
        (
            Method::POST,
            format!("/v3/whitelabel/domains/{id}/validate"),
        ),
        (
            Method::GET,
            "/v3/whitelabel/domains/not-a-number".to_string(),
        ),
    ] {
        let resp = sim.api(method, &path).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            resp.json::<Value>().await.unwrap()["errors"][0]["message"],
            "resource not found"
        );
    }
}

#[tokio::test]
async fn bad_requests_are_sendgrid_s_errors() {
    let sim = Sim::start(None).await;
    let resp = sim
        .http
        .post(format!("{}/v3/whitelabel/domains", sim.handle.base_url()))
        .bearer_auth("SG.nope")
        .json(&json!({"domain": "example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    for (body, field) in [
        (json!({}), "domain"),
        (json!({"domain": "not a domain"}), "domain"),
        (json!({"domain": 7}), "domain"),
        (
            json!({"domain": "example.com", "automatic_security": "yes"}),
            "automatic_security",
        ),
    ] {
        let resp = sim
            .api(Method::POST, "/v3/whitelabel/domains")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["errors"][0]["field"], field, "{e}");
    }
    // Without Automated Security: an MX and two TXT records.
    let created: Value = sim
        .api(Method::POST, "/v3/whitelabel/domains")
        .json(&json!({"domain": "example.net", "subdomain": "mail", "automatic_security": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["dns"]["mail_server"]["type"], "mx");
    assert_eq!(created["dns"]["mail_server"]["host"], "mail.example.net");
    assert_eq!(created["dns"]["subdomain_spf"]["type"], "txt");
    assert_eq!(created["dns"]["dkim"]["type"], "txt");
    // The control route refuses what is not a record.
    assert_eq!(
        sim.dns(
            Method::PUT,
            "x.example.net",
            Some(json!({"type": "A", "value": "1.2.3.4"}))
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        sim.dns(Method::DELETE, "nothing.example.net", None).await,
        StatusCode::NOT_FOUND
    );
}
