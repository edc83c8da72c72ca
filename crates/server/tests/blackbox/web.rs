//! The web UI over HTTP: sign-in and sign-out with a cookie session, CSRF on every form, role
//! checks like the API's, the pages' content and headers, the hashed stylesheet.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::checklist_support::*;
use crate::harness::{ADMIN_EMAIL, ADMIN_PASSWORD, Options, TestApp};

/// A browser without JavaScript: one session cookie, redirects not followed (so that each
/// answer can be checked).
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookie: Option<String>,
}

/// The value of `name="field" value="..."` in a page (HTML-escaped values have no quotes).
fn field<'h>(html: &'h str, name: &str) -> Option<&'h str> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let len = html[start..].find('"')?;
    Some(&html[start..start + len])
}

fn cookie_of(res: &reqwest::Response, name: &str) -> Option<(String, String)> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let pair = v.split(';').next().unwrap_or_default().to_owned();
            (pair, v.to_owned())
        })
}

fn form_body(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        let mut req = self.client.get(self.app.url(path));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.text().await.unwrap()
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(fields));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    async fn post_multipart(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let boundary = "preflight-test-boundary-7c1e";
        let mut body = String::new();
        for (name, value) in fields {
            let disposition = if *name == "file" {
                "form-data; name=\"file\"; filename=\"list.md\"
Content-Type: text/markdown"
                    .to_owned()
            } else {
                format!("form-data; name=\"{name}\"")
            };
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let mut req = self
            .client
            .post(self.app.url(path))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    /// Signs in through the form; the answer to the form's POST.
    async fn try_sign_in(&mut self, email: &str, password: &str) -> reqwest::Response {
        let res = self.get("/login").await;
        let (login_cookie, _) = cookie_of(&res, "preflight_login").unwrap();
        let html = res.text().await.unwrap();
        let token = field(&html, "token").unwrap().to_owned();
        let res = self
            .client
            .post(self.app.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", login_cookie)
            .body(form_body(&[
                ("email", email),
                ("password", password),
                ("token", &token),
                ("next", ""),
            ]))
            .send()
            .await
            .unwrap();
        if let Some((pair, _)) = cookie_of(&res, "preflight_session") {
            self.cookie = Some(pair);
        }
        res
    }

    async fn sign_in(&mut self, email: &str, password: &str) {
        let res = self.try_sign_in(email, password).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[LOCATION], "/services");
    }

    /// The CSRF token of the signed-in session, as its pages carry it.
    async fn csrf(&self) -> String {
        let html = self.page("/account").await;
        field(&html, "csrf").unwrap().to_owned()
    }
}

fn location(res: &reqwest::Response) -> String {
    res.headers()[LOCATION].to_str().unwrap().to_owned()
}

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
async fn web_editor_registers_attaches_signs_off_and_sees_readiness_change() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let checklist = import_ok(&admin, SMALL).await;
    let cid = checklist["id"].as_str().unwrap();
    let (email, _) = app.as_new_user("editor").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, ADMIN_PASSWORD).await;
    let csrf = browser.csrf().await;

    let res = browser
        .post(
            "/services/new",
            &[
                ("csrf", &csrf),
                ("name", "checkout"),
                ("environment", "staging"),
                ("owners", "team-pay, team-web"),
                ("base_url", "https://checkout.example.com"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let service_path = location(&res);
    let sid = service_path.trim_start_matches("/services/").to_owned();
    let res = browser
        .post(
            &format!("/services/{sid}/attach"),
            &[("csrf", &csrf), ("checklist", cid)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with(&format!("/services/{sid}#review-")));

    let html = browser.page(&service_path).await;
    assert!(html.contains("Secret key is set"), "{html}");
    assert!(html.contains("Automated check <code>health</code>"));
    assert!(html.contains("not run yet"));
    assert!(html.contains("value=\"sign_off\""));
    assert!(!html.contains("value=\"waive\""), "editors do not waive");
    let overview = browser.page("/services").await;
    assert!(overview.contains("checkout") && overview.contains("0%"));
    assert!(overview.contains("team-pay, team-web"));
    assert!(overview.contains("never"), "nothing verified yet");

    let review_path = html
        .split("action=\"")
        .find_map(|s| {
            s.starts_with("/reviews/")
                .then(|| s.split('"').next().unwrap())
        })
        .unwrap()
        .to_owned();
    let res = browser
        .post(
            &review_path,
            &[
                ("csrf", &csrf),
                ("key", K_ENCRYPTION),
                ("action", "sign_off"),
                ("note", "rotated yesterday"),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    let overview = browser.page("/services").await;
    assert!(overview.contains("20%"), "1 of 5 items passed: {overview}");
    assert!(!overview.contains("never"));
    let html = browser.page(&service_path).await;
    assert!(html.contains(&format!("signed off by {email}")));
    assert!(html.contains("rotated yesterday"));
    // Filters: by environment and by owner.
    assert!(
        browser
            .page("/services?environment=production")
            .await
            .contains("No services")
    );
    assert!(
        browser
            .page("/services?owner=team-web")
            .await
            .contains("checkout")
    );
    assert!(
        browser
            .page("/services?owner=nobody")
            .await
            .contains("No services")
    );

    // The item action went through the API's rules: a comment the item requires.
    let res = browser
        .post(
            &review_path,
            &[("csrf", &csrf), ("key", K_SECRET), ("action", "sign_off")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The export is the API's Markdown, as a download.
    let rid = review_path.split('/').nth(2).unwrap();
    let res = browser.get(&format!("/reviews/{rid}/export")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let md = res.text().await.unwrap();
    assert!(md.contains("- [x] Encryption key is set"), "{md}");
    // The audit log page shows the sign-off.
    let audit = browser.page("/audit?action=review_item.sign_off").await;
    assert!(audit.contains("review_item.sign_off") && audit.contains("rotated yesterday"));
}

#[tokio::test]
async fn web_viewer_sees_no_actions_and_a_forged_post_is_refused() {
    let app = TestApp::spawn().await;
    let (editor, review, sid) = small_review(&app).await;
    let (email, _) = app.as_new_user("viewer").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, ADMIN_PASSWORD).await;
    let html = browser.page(&format!("/services/{sid}")).await;
    assert!(html.contains("Secret key is set"));
    for action in ["Sign off", "Mark failed", "Waive", "Attach", "Actions"] {
        assert!(!html.contains(action), "a viewer sees no {action:?}");
    }
    assert!(
        !browser
            .page("/services")
            .await
            .contains("Register a service")
    );
    assert!(
        !browser
            .page("/checklists")
            .await
            .contains("Import a checklist")
    );
    // Forged with the viewer's own valid token: the API's role check refuses.
    let csrf = browser.csrf().await;
    let res = browser
        .post(
            &format!("/reviews/{review}/items"),
            &[
                ("csrf", &csrf),
                ("key", K_ENCRYPTION),
                ("action", "sign_off"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("editor role"));
    let res = browser
        .post("/services/new", &[("csrf", &csrf), ("name", "forged")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        browser.get("/admin/users").await.status(),
        StatusCode::FORBIDDEN
    );
    let item: Value = editor
        .get(&format!(
            "/api/v1/reviews/{review}/items/{}",
            enc(K_ENCRYPTION)
        ))
        .expect_json(200)
        .await;
    assert_eq!(item["state"], "pending");
}

#[tokio::test]
async fn web_admin_waives_a_failing_item() {
    let app = TestApp::spawn().await;
    let (editor, review, _) = small_review(&app).await;
    act(&editor, &review, K_ENCRYPTION, json!({"action": "fail"}))
        .expect_status(200)
        .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let csrf = browser.csrf().await;
    let path = format!("/reviews/{review}/items");
    let fields = [
        ("csrf", csrf.as_str()),
        ("key", K_ENCRYPTION),
        ("action", "waive"),
        ("note", "vendor fix due in January"),
    ];
    // Without an expiry the form is refused.
    let res = browser.post(&path, &fields).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mut with_expiry = fields.to_vec();
    let expiry = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    with_expiry.push(("expires", &expiry));
    let res = browser.post(&path, &with_expiry).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let item: Value = editor
        .get(&format!(
            "/api/v1/reviews/{review}/items/{}",
            enc(K_ENCRYPTION)
        ))
        .expect_json(200)
        .await;
    assert_eq!(item["state"], "waived");
    assert_eq!(item["waiver"]["reason"], "vendor fix due in January");
}

#[tokio::test]
async fn web_import_previews_names_the_error_line_then_imports() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let csrf = browser.csrf().await;
    let broken =
        "# Broken\n\n## Section\n- [ ] Fine item\n- [ ] Bad check <!-- check: no_such_kind -->\n";
    let res = browser
        .post_multipart(
            "/checklists/import",
            &[("csrf", &csrf), ("file", broken), ("intent", "preview")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("line 5"), "{html}");
    // A good document: the preview, then the import.
    let res = browser
        .post_multipart(
            "/checklists/import",
            &[("csrf", &csrf), ("markdown", SMALL), ("intent", "preview")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("5 items in 2 sections, 1 with an automated check"),
        "{html}"
    );
    let res = browser
        .post_multipart(
            "/checklists/import",
            &[("csrf", &csrf), ("markdown", SMALL), ("intent", "import")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = location(&res);
    let html = browser.page(&page).await;
    assert!(html.contains("Small checklist") && html.contains("line 8"));
    let res = browser.get(&format!("{page}/export")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), SMALL);
    // Without a token nothing is imported.
    let res = browser
        .post_multipart(
            "/checklists/import",
            &[("markdown", SMALL), ("intent", "import")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn web_account_shows_a_new_api_token_once_and_revokes_it() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let csrf = browser.csrf().await;
    let res = browser
        .post(
            "/account/tokens",
            &[("csrf", &csrf), ("name", "ci gate"), ("days", "7")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    let html = res.text().await.unwrap();
    let start = html.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
    let token = &html[start..start + html[start..].find('<').unwrap()];
    assert!(token.starts_with("pfa_"), "{token}");
    app.as_bearer(token)
        .get("/api/v1/readiness")
        .expect_status(200)
        .await;
    let again = browser.page("/account").await;
    assert!(
        again.contains("ci gate") && !again.contains(token),
        "shown once"
    );
    let id = again
        .split("action=\"/account/tokens/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_owned();
    let res = browser
        .post(&format!("/account/tokens/{id}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.as_bearer(token).get("/api/v1/readiness").status().await,
        401
    );
}

#[tokio::test]
async fn web_admin_adds_a_user_who_can_sign_in() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let csrf = browser.csrf().await;
    let res = browser
        .post(
            "/admin/users",
            &[
                ("csrf", &csrf),
                ("email", "new.viewer@example.com"),
                ("password", ADMIN_PASSWORD),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Created new.viewer@example.com")
    );
    let mut viewer = Browser::new(&app);
    viewer
        .sign_in("new.viewer@example.com", ADMIN_PASSWORD)
        .await;
    assert!(viewer.page("/account").await.contains("(viewer)"));

    // Promoted to editor: the role applies to the live session at once. Then disabled: the
    // session ends. Nobody disables themselves.
    let html = browser.page("/admin/users").await;
    let row_of = |email: &str| {
        let at = html.find(&format!("<th scope=\"row\">{email}")).unwrap();
        html[at..]
            .split("action=\"/admin/users/")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_owned()
    };
    let path = format!("/admin/users/{}", row_of("new.viewer@example.com"));
    let res = browser
        .post(
            &path,
            &[("csrf", &csrf), ("role", "editor"), ("active", "1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(viewer.page("/account").await.contains("(editor)"));
    let res = browser
        .post(&path, &[("csrf", &csrf), ("role", "editor")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(viewer.get("/account").await.status(), StatusCode::SEE_OTHER);
    let me = format!("/admin/users/{}", row_of(ADMIN_EMAIL));
    let res = browser
        .post(&me, &[("csrf", &csrf), ("role", "admin")])
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("cannot disable or demote yourself")
    );
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
