use base64::Engine;
use serde_json::{Value, json};

use crate::harness::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, assert_problem};

#[tokio::test]
async fn login_protected_call_refresh_logout_walk() {
    let app = TestApp::spawn().await;
    // 401 without a token.
    let p = app.get("/api/v1/me").expect_problem(401).await;
    assert_eq!(p["type"], "urn:preflight:problem:unauthorized");

    let tokens = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["expires_in"].as_i64().unwrap() > 0);
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let me: Value = app.get("/api/v1/me").bearer(access).expect_json(200).await;
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert_eq!(me["role"], "admin");

    let rotated: Value = app
        .post_json("/api/v1/auth/refresh", &json!({"refresh_token": refresh}))
        .expect_json(200)
        .await;
    let refresh2 = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(refresh2, refresh, "refresh token rotates");
    let access2 = rotated["access_token"].as_str().unwrap();
    app.get("/api/v1/me")
        .bearer(access2)
        .expect_status(200)
        .await;

    app.post_json("/api/v1/auth/logout", &json!({"refresh_token": refresh2}))
        .expect_status(204)
        .await;
    // The session is over: its refresh token no longer works.
    app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": refresh2}))
        .expect_problem(401)
        .await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let mut details = Vec::new();
    for (email, pw) in [
        (ADMIN_EMAIL, "wrong-password-123"),
        ("nobody@example.com", "whatever-123"),
    ] {
        let p = app
            .post_json(
                "/api/v1/auth/login",
                &json!({"email": email, "password": pw}),
            )
            .expect_problem(401)
            .await;
        details.push(p["detail"].clone());
    }
    assert_eq!(details[0], details[1]);
}

#[tokio::test]
async fn reused_refresh_token_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let tokens = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |t: &str| app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": t}));
    let rotated: Value = refresh(&first).expect_json(200).await;
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    // An attacker replays the spent token: refused, and the legitimate successor dies too.
    let p = refresh(&first).expect_problem(401).await;
    assert!(p["detail"].as_str().unwrap().contains("already used"));
    refresh(&second).expect_problem(401).await;
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn rejects_expired_tampered_wrong_key_and_alg_none_tokens() {
    let app = TestApp::spawn().await;
    let access = app.admin_token().await;
    let parts: Vec<&str> = access.split('.').collect();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();

    // Tampered: role changed, signature kept.
    let mut forged = claims.clone();
    forged["role"] = json!("admin");
    forged["sub"] = json!(uuid::Uuid::new_v4());
    let tampered = format!("{}.{}.{}", parts[0], b64(&forged), parts[2]);
    // alg none.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    // Signed with another key.
    let other = preflight_security::JwtKeys::new(
        &secrecy::SecretString::from("another-secret-key-that-is-long-enough-1234".to_owned()),
        "preflight",
        "preflight-api",
        chrono::Duration::minutes(5),
    );
    let (wrong_key, _) = other
        .issue(
            claims["sub"].as_str().unwrap().parse().unwrap(),
            "admin",
            None,
        )
        .unwrap();
    // Expired: same key, exp in the past. The test cannot know the key, so it uses the
    // development key file the service generated in its DATA_DIR.
    let secret = std::fs::read_to_string(app.data_dir.as_path().join("secret_key")).unwrap();
    let mut old = claims.clone();
    let now = chrono::Utc::now().timestamp();
    old["iat"] = json!(now - 7200);
    old["nbf"] = json!(now - 7200);
    old["exp"] = json!(now - 3600);
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &old,
        &jsonwebtoken::EncodingKey::from_secret(secret.trim().as_bytes()),
    )
    .unwrap();
    // Sanity: a fresh token signed the same way is accepted, so the rejection above is about exp.
    let mut fresh = claims.clone();
    fresh["exp"] = json!(now + 600);
    let resigned = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &fresh,
        &jsonwebtoken::EncodingKey::from_secret(secret.trim().as_bytes()),
    )
    .unwrap();
    let control = app.get("/api/v1/me").bearer(&resigned).status().await;
    assert_eq!(control, 200, "control token accepted");

    for (name, token) in [
        ("tampered", tampered),
        ("alg none", none),
        ("wrong key", wrong_key),
        ("expired", expired),
    ] {
        let res = app.get("/api/v1/me").bearer(&token).send().await;
        assert_eq!(res.status(), 401, "{name} token must be rejected");
        assert_problem(res, 401).await;
    }
}

#[tokio::test]
async fn api_tokens_are_shown_once_scoped_and_revocable() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let created: Value = admin
        .post_json(
            "/api/v1/me/tokens",
            &json!({"name": "ci", "scopes": ["read"], "expires_in_days": 30}),
        )
        .expect_json(201)
        .await;
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("pfa_"));
    let id = created["id"].as_str().unwrap().to_owned();

    // Works for reads.
    let ci = app.as_bearer(&token);
    let me: Value = ci.get("/api/v1/me").expect_json(200).await;
    assert_eq!(me["authenticated_with"], "api_token");
    // A read-only token cannot write, even for an admin.
    ci.post_json(
        "/api/v1/users",
        &json!({"email": "x@example.com", "password": "Another-Strong-Pass-9", "role": "viewer"}),
    )
    .expect_problem(403)
    .await;

    // Listing never shows the secret, and records the last use.
    let list: Value = admin.get("/api/v1/me/tokens").expect_json(200).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("token").is_none());
    assert!(!list[0]["last_used_at"].is_null());
    assert!(!list.to_string().contains(&token));

    admin
        .delete(&format!("/api/v1/me/tokens/{id}"))
        .expect_status(204)
        .await;
    let p = ci.get("/api/v1/me").expect_problem(401).await;
    assert!(p["detail"].as_str().unwrap().contains("revoked"));
}

#[tokio::test]
async fn admins_manage_users_and_others_cannot() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let (_, viewer) = app.as_new_user("viewer").await;
    let (_, editor) = app.as_new_user("editor").await;
    for user in [&viewer, &editor] {
        user.post_json(
            "/api/v1/users",
            &json!({"email": "new@example.com", "password": "Another-Strong-Pass-9", "role": "admin"}),
        )
        .expect_problem(403)
        .await;
        user.get("/api/v1/users").expect_problem(403).await;
    }
    // Nothing was created by the refused calls.
    let list: Value = admin
        .get("/api/v1/users?per_page=50")
        .expect_json(200)
        .await;
    assert_eq!(list["total"], 3);
    assert!(!list.to_string().contains("new@example.com"));

    // Create, duplicate, weak password.
    let create = |body: Value| admin.post_json("/api/v1/users", &body);
    let res = create(
        json!({"email": "Dana@Example.com", "password": "Another-Strong-Pass-9", "role": "editor"}),
    )
    .expect_status(201)
    .await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let user: Value = res.json().await.unwrap();
    assert_eq!(user["email"], "dana@example.com");
    assert!(user.get("password_hash").is_none());
    create(
        json!({"email": "dana@example.com", "password": "Another-Strong-Pass-9", "role": "editor"}),
    )
    .expect_problem(409)
    .await;
    let p = create(json!({"email": "weak@example.com", "password": "password", "role": "editor"}))
        .expect_problem(422)
        .await;
    assert_eq!(p["errors"][0]["field"], "password");
    create(json!({"email": "bad@example.com", "password": "Another-Strong-Pass-9", "role": "superuser"}))
        .expect_problem(422)
        .await;

    // Optimistic concurrency on update.
    let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    let patch = |tag: &str, body: Value| admin.patch(&path).if_match(tag).json(&body);
    let res = patch(&etag, json!({"role": "viewer"}))
        .expect_status(200)
        .await;
    assert_ne!(res.headers()["etag"].to_str().unwrap(), etag);
    patch(&etag, json!({"role": "admin"}))
        .expect_problem(412)
        .await;
    let fetched: Value = admin.get(&path).expect_json(200).await;
    assert_eq!(
        fetched["role"], "viewer",
        "the stale update changed nothing"
    );

    admin.delete(&path).expect_status(204).await;
    admin.get(&path).expect_problem(404).await;
}

#[tokio::test]
async fn a_write_scoped_api_token_cannot_manage_users() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let created: Value = admin
        .post_json(
            "/api/v1/me/tokens",
            &json!({"name": "ci-write", "scopes": ["read", "write"], "expires_in_days": 30}),
        )
        .expect_json(201)
        .await;
    let token = created["token"].as_str().unwrap().to_owned();

    let ci = app.as_bearer(&token);
    let problem = ci
        .post_json(
            "/api/v1/users",
            &json!({"email": "new-admin@example.com", "password": "Another-Strong-Pass-9", "role": "admin"}),
        )
        .expect_problem(403)
        .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("API tokens cannot manage users"),
        "{problem}"
    );

    // The same admin with a login session may.
    let user: Value = admin
        .post_json(
            "/api/v1/users",
            &json!({"email": "viewer-2@example.com", "password": "Another-Strong-Pass-9", "role": "viewer"}),
        )
        .expect_json(201)
        .await;
    let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    let etag = format!("\"{}\"", user["version"]);
    for call in [
        ci.patch(&path)
            .if_match(&etag)
            .json(&json!({"role": "admin"})),
        ci.delete(&path),
    ] {
        call.expect_problem(403).await;
    }
}
