//! The web UI over HTTP: sign-in and sign-out with a cookie session, CSRF on every form, the
//! pages' headers and the hashed stylesheet here; the pages and their role checks in [`pages`].

mod browser;
mod pages;
mod runs;

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION};
use serde_json::{Value, json};

use crate::harness::{ADMIN_EMAIL, ADMIN_PASSWORD, Options, TestApp};
use browser::{Browser, cookie_of, location};

#[tokio::test]
async fn web_root_and_pages_lead_to_sign_in_without_a_session() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let res = browser.get("/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login");
    let res = browser.get("/services?owner=a").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?next=%2Fservices%3Fowner%3Da");
    // A bearer token is no session for pages, and a session cookie is none for the API.
    let login = browser.get("/login").await;
    assert_eq!(login.status(), StatusCode::OK);
    let html = login.text().await.unwrap();
    assert!(
        html.contains("<label for=\"email\">Email</label>"),
        "{html}"
    );
    assert!(html.contains("<label for=\"password\">Password</label>"));
}

#[tokio::test]
async fn web_sign_in_sets_a_hardened_cookie_and_sign_out_ends_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let res = browser.try_sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, cookie) = cookie_of(&res, "preflight_session").unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert_eq!(browser.get("/").await.headers()[LOCATION], "/services");

    let res = browser.get("/services").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    let csp = res.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("<h1>Services</h1>"));
    assert!(!html.contains("<script"), "no script on pages");
    assert!(!html.contains("style="), "no inline style on pages");

    // The session is not an API credential.
    let cookie = browser.cookie.clone().unwrap();
    let api = app.get("/api/v1/me").header("cookie", &cookie).send().await;
    assert_eq!(api.status().as_u16(), 401);

    let csrf = browser.csrf().await;
    let res = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login");
    let (_, cleared) = cookie_of(&res, "preflight_session").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie, replayed, is worth nothing: the session ended on the server.
    let res = browser.get("/services").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/login"));
}

#[tokio::test]
async fn web_sign_in_refuses_wrong_passwords_and_forms_without_their_token() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let res = browser.try_sign_in(ADMIN_EMAIL, "wrong-password").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(cookie_of(&res, "preflight_session").is_none());
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("invalid email or password")
    );
    // Without the form's own cookie (login CSRF), no attempt is made.
    let res = browser
        .post(
            "/login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("token", "x"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(cookie_of(&res, "preflight_session").is_none());
}

#[tokio::test]
async fn web_sign_in_shares_the_api_login_limit() {
    let app = TestApp::spawn_with(Options::default().env("RATE_LIMIT_LOGIN", "2/m")).await;
    for _ in 0..2 {
        app.post_json(
            "/api/v1/auth/login",
            &json!({"email": ADMIN_EMAIL, "password": "wrong-password"}),
        )
        .send()
        .await;
    }
    let mut browser = Browser::new(&app);
    let res = browser.try_sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert!(cookie_of(&res, "preflight_session").is_none());
}

#[tokio::test]
async fn web_forms_refuse_a_missing_or_wrong_csrf_token() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for fields in [
        vec![("name", "no-token")],
        vec![("name", "wrong-token"), ("csrf", "0123456789abcdef")],
    ] {
        let res = browser.post("/services/new", &fields).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.text().await.unwrap().contains("security token"));
    }
    let res = browser.post("/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Another session's token is no better.
    let mut other = Browser::new(&app);
    other.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let foreign = other.csrf().await;
    let res = browser
        .post("/services/new", &[("name", "foreign"), ("csrf", &foreign)])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let admin = app.as_admin().await;
    let list: Value = admin.get("/api/v1/services").expect_json(200).await;
    assert_eq!(list["total"], 0, "no service was registered: {list}");
    // And the browser is still signed in.
    assert_eq!(browser.get("/services").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn web_stylesheet_is_served_under_its_hash_for_a_year() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let html = browser.page("/login").await;
    let start = html.find("href=\"/assets/").unwrap() + "href=\"".len();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    let res = browser.get(href).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(res.text().await.unwrap().contains(":focus-visible"));
    assert_eq!(
        browser.get("/assets/app.000000000000.css").await.status(),
        StatusCode::NOT_FOUND
    );
}
