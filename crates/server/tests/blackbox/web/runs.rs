//! Runs in the browser: an editor runs a service's checks now and reads the evidence; a viewer
//! sees no run button and a forged run is refused.

use std::time::Duration;

use reqwest::StatusCode;

use super::browser::{Browser, location};
use crate::harness::ADMIN_PASSWORD;
use crate::runner::support::{app_with_runner, checklist, eventually, service_with, target};

#[tokio::test]
async fn web_editor_runs_checks_now_and_reads_the_evidence_viewer_cannot() {
    let (base, hits) = target(Duration::ZERO).await;
    let app = app_with_runner(&[("PROBE_INTERVAL", "24h")]).await;
    let admin = app.as_admin().await;
    let md = checklist(&[("Orders answer", "http path=/bad/6")]);
    let (sid, _review) = service_with(&admin, "web-runs", &base, &md).await;

    let (viewer, _) = app.as_new_user("viewer").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&viewer, ADMIN_PASSWORD).await;
    let html = browser.page(&format!("/services/{sid}")).await;
    assert!(
        !html.contains("Run checks now") && !html.contains("Run now"),
        "{html}"
    );
    let csrf = browser.csrf().await;
    let res = browser
        .post(&format!("/services/{sid}/run"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let (editor, _) = app.as_new_user("editor").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&editor, ADMIN_PASSWORD).await;
    let html = browser.page(&format!("/services/{sid}")).await;
    assert!(html.contains("Run checks now"), "{html}");
    let csrf = browser.csrf().await;
    // Without the form's token: refused before anything runs.
    let res = browser.post(&format!("/services/{sid}/run"), &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = browser
        .post(&format!("/services/{sid}/run"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let run_page = location(&res);
    assert!(run_page.starts_with("/runs/"), "{run_page}");
    let html = eventually(
        Duration::from_secs(30),
        "the run page to say finished",
        || async {
            let html = browser.page(&run_page).await;
            html.contains("Finished").then_some(html)
        },
    )
    .await;
    assert!(hits.of("/bad/6") >= 1);
    assert!(html.contains("500"), "the reason names the status: {html}");
    let evidence = html
        .split("href=\"")
        .find_map(|s| s.strip_prefix("/check-runs/"))
        .and_then(|s| s.split('"').next())
        .expect("a link to the evidence");
    let html = browser.page(&format!("/check-runs/{evidence}")).await;
    assert!(html.contains("/bad/6</code>"), "{html}");
    assert!(html.contains("<strong>500</strong>"), "{html}");
    assert!(html.contains("database unreachable"), "{html}");
    // The service page shows the latest run and links its evidence.
    let html = browser.page(&format!("/services/{sid}")).await;
    assert!(html.contains(&format!("/check-runs/{evidence}")), "{html}");
    assert!(html.contains("last run: failed"), "{html}");
}
