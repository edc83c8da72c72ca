//! Server mode: `preflight check --server URL --service NAME` against the real service.

use serde_json::{Value, json};

use super::support::{assert_exit, check, stderr, stdout};
use crate::checklist_support::{act, attach, create_service, import_ok};
use crate::harness::TestApp;

const LIST: &str = "# Release gate\n\n## Runtime\n\
- [ ] Health endpoints answer <!-- check: health -->\n\n\
## People\n\
- [ ] Someone is on call\n\
- [ ] A game day was held (optional)\n";

const K_HEALTH: &str = "runtime/health-endpoints-answer";
const K_ON_CALL: &str = "people/someone-is-on-call";

#[tokio::test]
async fn server_mode_gates_on_the_service_readiness() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let checklist = import_ok(&admin, LIST).await;
    let name = format!("billing-{}", uuid::Uuid::new_v4().simple());
    // A second service whose name contains the first's: only the exact name counts.
    create_service(&admin, json!({"name": format!("{name}-old")})).await;
    let service = create_service(
        &admin,
        json!({"name": name, "base_url": "https://billing.example.com"}),
    )
    .await;
    let sid = service["id"].as_str().unwrap();
    let review = attach(&admin, sid, checklist["id"].as_str().unwrap()).await;
    let rid = review["id"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = [("PREFLIGHT_TOKEN", admin.token())];
    let run = async |format: &str| {
        check(
            &[
                "--server",
                &app.base,
                "--service",
                &name,
                "--format",
                format,
            ],
            &env,
            dir.path(),
        )
        .await
    };

    // Nothing verified yet: not ready, every item listed with its state.
    let out = run("json").await;
    assert_exit(&out, 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ready"], false);
    assert_eq!(report["service"], name.as_str());
    assert_eq!(report["target"], "https://billing.example.com");
    assert_eq!(report["checklist"], "Release gate");
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{report}");
    assert!(items.iter().all(|i| i["outcome"] == "pending"), "{report}");
    assert_eq!(items[0]["kind"], "health");
    assert_eq!(items[1]["reason"], "needs sign-off by a person");
    let out = run("text").await;
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("PENDING") && text.contains("Someone is on call"),
        "{text}"
    );
    assert!(text.contains("NOT READY"), "{text}");

    // Signed off and waived: ready. The optional item never blocks.
    act(
        &admin,
        rid,
        K_ON_CALL,
        json!({"action": "sign_off", "comment": "rota in PagerDuty"}),
    )
    .expect_status(200)
    .await;
    let expires = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let waive =
        json!({"action": "waive", "reason": "probe runs after deploy", "expires_at": expires});
    act(&admin, rid, K_HEALTH, waive).expect_status(200).await;
    let out = run("text").await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("signed off by") && text.contains("rota in PagerDuty"),
        "{text}"
    );
    assert!(
        text.contains("WAIVED") && text.contains("— READY"),
        "{text}"
    );
    let out = run("markdown").await;
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("- [x] Someone is on call"),
        "{}",
        stdout(&out)
    );
    let out = run("junit").await;
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("<testsuite name=\"People\""),
        "{}",
        stdout(&out)
    );
}

#[tokio::test]
async fn server_mode_usage_errors_exit_2() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let dir = tempfile::tempdir().unwrap();
    let out = check(&["--server", &app.base, "--service", "x"], &[], dir.path()).await;
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("PREFLIGHT_TOKEN"), "{}", stderr(&out));
    let env = [("PREFLIGHT_TOKEN", admin.as_str())];
    let out = check(
        &["--server", &app.base, "--service", "no-such-service"],
        &env,
        dir.path(),
    )
    .await;
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("no service named \"no-such-service\""),
        "{}",
        stderr(&out)
    );
    let bad = [("PREFLIGHT_TOKEN", "not-a-token")];
    let out = check(&["--server", &app.base, "--service", "x"], &bad, dir.path()).await;
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("not-a-token"),
        "the token is not echoed"
    );
    // Server mode takes no checklist.
    let out = check(&["--server", &app.base], &env, dir.path()).await;
    assert_exit(&out, 2);
}
