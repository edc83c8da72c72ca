//! Regression tests of the security review's findings on authentication and rate limits
//! (issue #12): revocation at once, login limits that cannot lock an owner out, token scopes,
//! and the headers of a login 429.

use serde_json::{Value, json};

use crate::harness::{ADMIN_EMAIL, ADMIN_PASSWORD, Options, TestApp};

const OTHER_PASSWORD: &str = "Another-Strong-Pass-9";

/// Creates a user with `role` and logs them in: (id, email, token response).
async fn new_user(app: &TestApp, role: &str) -> (String, String, Value) {
    let admin = app.as_admin().await;
    let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
    let created: Value = admin
        .post_json(
            "/api/v1/users",
            &json!({"email": email, "password": ADMIN_PASSWORD, "role": role}),
        )
        .expect_json(201)
        .await;
    let tokens = app.login(&email, ADMIN_PASSWORD).await;
    (created["id"].as_str().unwrap().to_owned(), email, tokens)
}

fn access(tokens: &Value) -> &str {
    tokens["access_token"].as_str().unwrap()
}

async fn patch_user(app: &TestApp, id: &str, body: Value) {
    let admin = app.as_admin().await;
    admin
        .patch(&format!("/api/v1/users/{id}"))
        .json(&body)
        .expect_status(200)
        .await;
}

#[tokio::test]
async fn a_demoted_admins_access_token_loses_admin_at_once() {
    let app = TestApp::spawn().await;
    let (id, _, tokens) = new_user(&app, "admin").await;
    let old = app.as_bearer(access(&tokens));
    old.get("/api/v1/users").expect_status(200).await;
    patch_user(&app, &id, json!({"role": "viewer"})).await;
    // The token still says admin; the database says viewer, and wins.
    old.post_json(
        "/api/v1/users",
        &json!({"email": "new-admin@example.com", "password": OTHER_PASSWORD, "role": "admin"}),
    )
    .expect_problem(403)
    .await;
    let me: Value = old.get("/api/v1/me").expect_json(200).await;
    assert_eq!(me["role"], "viewer");
}

#[tokio::test]
async fn access_tokens_stop_working_when_disabled_deleted_repassworded_or_logged_out() {
    // Many logins from one address: more than the default login limit allows.
    let app = TestApp::spawn_with(Options::default().env("RATE_LIMIT_LOGIN", "100/m")).await;
    let admin = app.as_admin().await;

    let (id, _, tokens) = new_user(&app, "editor").await;
    app.as_bearer(access(&tokens))
        .get("/api/v1/me")
        .expect_status(200)
        .await;
    patch_user(&app, &id, json!({"disabled": true})).await;
    let p = app
        .as_bearer(access(&tokens))
        .get("/api/v1/me")
        .expect_problem(401)
        .await;
    assert!(p["detail"].as_str().unwrap().contains("revoked"), "{p}");

    let (id, _, tokens) = new_user(&app, "editor").await;
    patch_user(&app, &id, json!({"password": OTHER_PASSWORD})).await;
    app.as_bearer(access(&tokens))
        .get("/api/v1/me")
        .expect_problem(401)
        .await;

    let (id, _, tokens) = new_user(&app, "editor").await;
    admin
        .delete(&format!("/api/v1/users/{id}"))
        .expect_status(204)
        .await;
    app.as_bearer(access(&tokens))
        .get("/api/v1/me")
        .expect_problem(401)
        .await;

    let (_, _, tokens) = new_user(&app, "editor").await;
    let caller = app.as_bearer(access(&tokens));
    caller.get("/api/v1/services").expect_status(200).await;
    app.post_json(
        "/api/v1/auth/logout",
        &json!({"refresh_token": tokens["refresh_token"]}),
    )
    .expect_status(204)
    .await;
    caller.get("/api/v1/services").expect_problem(401).await;
    // Another login of the same user is a session of its own and still works.
    let (_, email, _) = new_user(&app, "viewer").await;
    let first = app.login(&email, ADMIN_PASSWORD).await;
    let second = app.login(&email, ADMIN_PASSWORD).await;
    app.post_json(
        "/api/v1/auth/logout",
        &json!({"refresh_token": first["refresh_token"]}),
    )
    .expect_status(204)
    .await;
    app.as_bearer(access(&first))
        .get("/api/v1/me")
        .expect_problem(401)
        .await;
    app.as_bearer(access(&second))
        .get("/api/v1/me")
        .expect_status(200)
        .await;
}

fn login_from(app: &TestApp, address: &str, password: &str) -> crate::harness::Call {
    app.post_json(
        "/api/v1/auth/login",
        &json!({"email": ADMIN_EMAIL, "password": password}),
    )
    .header("x-forwarded-for", address)
}

#[tokio::test]
async fn guessing_from_one_address_does_not_lock_the_owner_out() {
    let app = TestApp::spawn_with(
        Options::default()
            .env("RATE_LIMIT_LOGIN", "3/m")
            .env("TRUSTED_PROXIES", "127.0.0.1/32"),
    )
    .await;
    let mut codes = Vec::new();
    for _ in 0..10 {
        codes.push(
            login_from(&app, "198.51.100.1", "Wrong-Password-999")
                .status()
                .await,
        );
    }
    assert_eq!(&codes[..4], &[401, 401, 401, 429], "{codes:?}");
    // The owner, from their own address, with the right password.
    login_from(&app, "198.51.100.2", ADMIN_PASSWORD)
        .expect_status(200)
        .await;
}

#[tokio::test]
async fn the_per_account_ceiling_holds_across_addresses() {
    let app = TestApp::spawn_with(
        Options::default()
            .env("RATE_LIMIT_LOGIN", "3/m")
            .env("RATE_LIMIT_LOGIN_ACCOUNT", "5/m")
            .env("TRUSTED_PROXIES", "127.0.0.1/32"),
    )
    .await;
    let mut codes = Vec::new();
    for address in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        for _ in 0..2 {
            codes.push(
                login_from(&app, address, "Wrong-Password-999")
                    .status()
                    .await,
            );
        }
    }
    assert_eq!(codes, [401, 401, 401, 401, 401, 429]);
}

#[tokio::test]
async fn a_login_429_describes_the_login_limit_only() {
    let app = TestApp::spawn_with(
        Options::default()
            .env("RATE_LIMIT_LOGIN", "2/m")
            .env("RATE_LIMIT_ANONYMOUS", "100/m"),
    )
    .await;
    let mut last = None;
    for _ in 0..3 {
        last = Some(
            app.post_json(
                "/api/v1/auth/login",
                &json!({"email": ADMIN_EMAIL, "password": "Wrong-Password-999"}),
            )
            .send()
            .await,
        );
    }
    let res = last.unwrap();
    assert_eq!(res.status(), 429);
    let header = |name: &str| res.headers()[name].to_str().unwrap().to_owned();
    // The login quota (2), not the anonymous one (100), and nothing left.
    assert!(
        header("ratelimit-policy").contains(";q=2;"),
        "{}",
        header("ratelimit-policy")
    );
    assert!(
        header("ratelimit").contains(";r=0;"),
        "{}",
        header("ratelimit")
    );
    let retry: u64 = header("retry-after").parse().unwrap();
    assert!(
        header("ratelimit").ends_with(&format!(";t={retry}")),
        "{} vs retry-after {retry}",
        header("ratelimit")
    );
}

#[tokio::test]
async fn a_read_scoped_api_token_cannot_revoke_tokens() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for name in ["ci", "laptop"] {
        let created: Value = admin
            .post_json(
                "/api/v1/me/tokens",
                &json!({"name": name, "scopes": ["read"]}),
            )
            .expect_json(201)
            .await;
        ids.push(created["id"].as_str().unwrap().to_owned());
        tokens.push(created["token"].as_str().unwrap().to_owned());
    }
    let leaked = app.as_bearer(&tokens[0]);
    leaked
        .delete(&format!("/api/v1/me/tokens/{}", ids[1]))
        .expect_problem(403)
        .await;
    app.as_bearer(&tokens[1])
        .get("/api/v1/me")
        .expect_status(200)
        .await;
}

#[tokio::test]
async fn oversized_login_fields_are_a_422_before_any_password_work() {
    let app = TestApp::spawn().await;
    for body in [
        json!({"email": format!("{}@example.com", "a".repeat(320)), "password": "x"}),
        json!({"email": ADMIN_EMAIL, "password": "p".repeat(1025)}),
    ] {
        app.post_json("/api/v1/auth/login", &body)
            .expect_problem(422)
            .await;
    }
    // At the bound it is an ordinary wrong password.
    app.post_json(
        "/api/v1/auth/login",
        &json!({"email": ADMIN_EMAIL, "password": "p".repeat(1024)}),
    )
    .expect_problem(401)
    .await;
}
