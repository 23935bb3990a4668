//! Members and invitations over the API: an admin key invites, the token is shown once and
//! works once, passwords are argon2id at rest, roles change, the last admin stays, and
//! workspaces never see each other's people.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Gateway;

async fn invite(gw: &Gateway, key: &str, email: &str, role: &str) -> (StatusCode, Value) {
    gw.call(
        Method::POST,
        "/v1/members/invitations",
        key,
        Some(&json!({"email": email, "role": role})),
    )
    .await
}

async fn accept(gw: &Gateway, token: &str, name: &str, password: &str) -> (StatusCode, Value) {
    let r = gw
        .http()
        .post(format!("{}/v1/invitations/accept", gw.url))
        .json(&json!({"token": token, "name": name, "password": password}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn invitations_work_once_and_members_keep_an_admin() {
    let gw = Gateway::start("members", &[]);
    let (ws, owner) = gw.new_workspace("People Inc").await;

    // Only an admin key invites; the email and role are checked.
    let (_, reader) = gw
        .call(
            Method::POST,
            "/v1/keys",
            &owner,
            Some(&json!({"name": "r", "scopes": ["read", "send"]})),
        )
        .await;
    let reader = reader["key"].as_str().unwrap().to_string();
    assert_eq!(
        invite(&gw, &reader, "ada@example.com", "admin").await.0,
        StatusCode::FORBIDDEN
    );
    let (s, e) = invite(&gw, &owner, "not-an-email", "admin").await;
    assert_eq!(
        (s, &e["error"]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("email"))
    );
    let (s, e) = invite(&gw, &owner, "ada@example.com", "owner").await;
    assert_eq!(
        (s, &e["error"]["field"]),
        (StatusCode::BAD_REQUEST, &json!("role")),
        "{e}"
    );

    let (s, inv) = invite(&gw, &owner, " Ada@Example.com ", "admin").await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    assert_eq!(inv["email"], "ada@example.com");
    let token = inv["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 64);
    assert_eq!(inv["accept_path"], format!("/console/invitations/{token}"));
    let (_, listed) = gw
        .call(Method::GET, "/v1/members/invitations", &owner, None)
        .await;
    assert!(
        !listed.to_string().contains(&token),
        "the token is shown once: {listed}"
    );

    // A short password is refused without using the invitation.
    let (s, e) = accept(&gw, &token, "Ada", "short").await;
    assert_eq!(
        (s, &e["error"]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("password"))
    );
    let (s, ada) = accept(&gw, &token, "Ada Lovelace", "correct horse battery").await;
    assert_eq!(s, StatusCode::CREATED, "{ada}");
    assert_eq!(
        (ada["role"].as_str(), ada["name"].as_str()),
        (Some("admin"), Some("Ada Lovelace"))
    );
    // Once only.
    let (s, e) = accept(&gw, &token, "Eve", "correct horse battery").await;
    assert_eq!(
        (s, &e["error"]["field"]),
        (StatusCode::NOT_FOUND, &json!("token"))
    );
    let (s, e) = invite(&gw, &owner, "ada@example.com", "agent").await;
    assert_eq!(
        (s, &e["error"]["code"]),
        (StatusCode::CONFLICT, &json!("email_taken"))
    );

    // The password is a hash at rest.
    let db = crate::support::database_contents(&gw.data_dir).await;
    let text = String::from_utf8_lossy(&db);
    assert!(
        !text.contains("correct horse battery"),
        "the password is at rest in the clear"
    );
    assert!(text.contains("$argon2id$"), "argon2id hashes are stored");

    // A billing member; the last admin can be neither demoted nor removed.
    let (_, inv) = invite(&gw, &owner, "bob@example.com", "billing").await;
    let (_, bob) = accept(
        &gw,
        inv["token"].as_str().unwrap(),
        "Bob",
        "another long password",
    )
    .await;
    let (ada_id, bob_id) = (ada["id"].as_str().unwrap(), bob["id"].as_str().unwrap());
    let (_, list) = gw.call(Method::GET, "/v1/members", &owner, None).await;
    let emails: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["ada@example.com", "bob@example.com"]);
    assert!(
        !list.to_string().contains("argon2"),
        "no hash in the API: {list}"
    );
    let (s, e) = gw
        .call(
            Method::PATCH,
            &format!("/v1/members/{ada_id}"),
            &owner,
            Some(&json!({"role": "agent"})),
        )
        .await;
    assert_eq!(
        (s, &e["error"]["code"]),
        (StatusCode::CONFLICT, &json!("last_admin"))
    );
    assert_eq!(
        gw.call(
            Method::DELETE,
            &format!("/v1/members/{ada_id}"),
            &owner,
            None
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    let (s, b) = gw
        .call(
            Method::PATCH,
            &format!("/v1/members/{bob_id}"),
            &owner,
            Some(&json!({"role": "admin"})),
        )
        .await;
    assert_eq!((s, &b["role"]), (StatusCode::OK, &json!("admin")));
    let (s, a) = gw
        .call(
            Method::PATCH,
            &format!("/v1/members/{ada_id}"),
            &owner,
            Some(&json!({"role": "agent"})),
        )
        .await;
    assert_eq!(
        (s, &a["role"]),
        (StatusCode::OK, &json!("agent")),
        "with two admins one may step down"
    );

    // Another workspace sees none of them and cannot touch them.
    let (other_ws, other) = gw.new_workspace("Elsewhere").await;
    assert_ne!(other_ws, ws);
    let (_, list) = gw.call(Method::GET, "/v1/members", &other, None).await;
    assert_eq!(list, json!([]));
    for (method, body) in [
        (Method::PATCH, Some(json!({"role": "agent"}))),
        (Method::DELETE, None),
    ] {
        let (s, _) = gw
            .call(
                method,
                &format!("/v1/members/{bob_id}"),
                &other,
                body.as_ref(),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }

    assert_eq!(
        gw.call(
            Method::DELETE,
            &format!("/v1/members/{ada_id}"),
            &owner,
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let (_, list) = gw.call(Method::GET, "/v1/members", &owner, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}
