//! Exports after runs: Markdown carries each automated item's latest sentence, JSON its full
//! evidence, JUnit the shape of `preflight check --format junit`.

use std::time::Duration;

use serde_json::Value;

use super::support::{app_with_runner, checklist, eventually, service_with, target};
use crate::check_cli::formats::validate_junit;

#[tokio::test]
async fn exports_carry_the_latest_evidence_in_markdown_json_and_junit() {
    let (base, _hits) = target(Duration::ZERO).await;
    let app = app_with_runner(&[("PROBE_INTERVAL", "24h")]).await;
    let admin = app.as_admin().await;
    let md = checklist(&[
        ("Status answers", "http path=/ok/5"),
        ("Orders answer", "http path=/bad/5"),
        ("Runbook reviewed", ""),
    ]);
    let (service, review) = service_with(&admin, "exports", &base, &md).await;
    let res = admin
        .post(&format!("/api/v1/services/{service}/runs"))
        .expect_status(202)
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    eventually(Duration::from_secs(30), "the run to finish", || async {
        let run: Value = admin.get(&location).expect_json(200).await;
        (run["status"] == "finished").then_some(())
    })
    .await;

    // JSON: the latest run's full evidence beside its sentence.
    let json: Value = admin
        .get(&format!("/api/v1/reviews/{review}"))
        .expect_json(200)
        .await;
    let bad = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["text"] == "Orders answer")
        .unwrap();
    assert_eq!(
        bad["last_run_evidence"]["requests"][0]["status"], 500,
        "{bad}"
    );
    let sentence = bad["last_run"]["reason"].as_str().unwrap().to_owned();

    // Markdown: the sentence as the item's trailing note.
    let text = admin
        .get(&format!("/api/v1/reviews/{review}?format=markdown"))
        .expect_text(200)
        .await;
    let line = text
        .lines()
        .find(|l| l.contains("Orders answer"))
        .unwrap()
        .to_owned();
    assert!(line.contains(&sentence), "{line}");
    assert!(line.contains("automated check"), "{line}");
    let ok_line = text.lines().find(|l| l.contains("Status answers")).unwrap();
    assert!(ok_line.starts_with("- [x]"), "{ok_line}");

    // JUnit: a failure carrying the sentence and the request, a pass, a blocking sign-off.
    let res = admin
        .get(&format!("/api/v1/reviews/{review}?format=junit"))
        .expect_status(200)
        .await;
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let xml = res.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    validate_junit(&xml, dir.path());
    assert!(xml.contains("<testsuite name=\"Checks\""), "{xml}");
    assert!(xml.contains("tests=\"3\""), "{xml}");
    assert!(xml.contains("failures=\"2\""), "{xml}");
    assert!(xml.contains(&xml_escape(&sentence)), "{xml}");
    assert!(
        xml.contains("/bad/5 -&gt; 500") || xml.contains("/bad/5 -> 500"),
        "{xml}"
    );
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
