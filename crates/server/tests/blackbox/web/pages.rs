//! The web UI's pages: registering, attaching, item actions and readiness, the viewer's page
//! and forged posts, waivers, import with preview, tokens and users.

use reqwest::StatusCode;
use reqwest::header::CACHE_CONTROL;
use serde_json::{Value, json};

use super::browser::{Browser, location};
use crate::checklist_support::*;
use crate::harness::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};

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
