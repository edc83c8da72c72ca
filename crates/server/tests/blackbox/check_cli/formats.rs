//! Output formats of `preflight check`: JSON fields, JUnit against the XSD, Markdown that
//! re-imports, `--output`, and credentials absent from all of them.

use std::process::Command;

use preflight_domain::parse_checklist;
use serde_json::Value;

use super::support::{
    MIXED, assert_exit, bare_target, check, echo_target, example, fixture, good_target, stderr,
    stdout, write,
};
use crate::harness;

/// Validates `xml` with `xmllint --schema`; `false` (skip) when xmllint is missing outside CI.
pub fn validate_junit(xml: &str, dir: &std::path::Path) -> bool {
    let file = write(dir, "report.xml", xml);
    let schema = fixture("junit.xsd");
    let out = match Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(&file)
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            assert!(
                !harness::in_ci(),
                "xmllint is required in CI (apt-get install libxml2-utils)"
            );
            eprintln!("skipping JUnit schema validation: xmllint not found (libxml2-utils)");
            return false;
        }
    };
    assert!(
        out.status.success(),
        "JUnit output does not validate:\n{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[tokio::test]
async fn json_report_carries_every_field() {
    let target = bare_target().await;
    let dir = tempfile::tempdir().unwrap();
    let list = write(dir.path(), "mixed.md", MIXED);
    let out = check(
        &[
            "--checklist",
            &list,
            "--target",
            &target,
            "--format",
            "json",
        ],
        &[],
        dir.path(),
    )
    .await;
    assert_exit(&out, 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["checklist"], "Mixed");
    assert_eq!(report["target"], format!("{target}/"));
    assert_eq!(report["ready"], false);
    let summary = &report["summary"];
    assert_eq!(summary["passed"], 1, "{report}");
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["needs_sign_off"], 1);
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for field in [
        "key", "section", "text", "kind", "check", "outcome", "reason", "report",
    ] {
        assert!(items[0].get(field).is_some(), "{field} in {}", items[0]);
    }
    assert_eq!(items[0]["outcome"], "passed");
    assert_eq!(items[0]["section"], "Runtime");
    assert_eq!(items[0]["report"]["kind"], "health");
    assert!(
        items[0]["report"]["requests"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(items[1]["outcome"], "failed");
    assert!(
        items[1]["reason"]
            .as_str()
            .unwrap()
            .contains("X-Content-Type-Options")
    );
    assert_eq!(items[2]["outcome"], "manual");
    assert_eq!(items[2]["kind"], Value::Null);
    assert_eq!(items[2]["report"], Value::Null);
}

#[tokio::test]
async fn junit_report_validates_against_the_schema() {
    let target = bare_target().await;
    let dir = tempfile::tempdir().unwrap();
    // passed, failed, error (no Prometheus configured) and manual, in two sections.
    let list = write(
        dir.path(),
        "all.md",
        &format!("{MIXED}- [ ] Prometheus scrapes it <!-- check: prometheus_target -->\n"),
    );
    let out = check(
        &[
            "--checklist",
            &list,
            "--target",
            &target,
            "--format",
            "junit",
        ],
        &[],
        dir.path(),
    )
    .await;
    assert_exit(&out, 1);
    let xml = stdout(&out);
    assert!(xml.contains("<testsuite name=\"Runtime\""), "{xml}");
    assert!(xml.contains("<testsuite name=\"People\""), "{xml}");
    assert!(xml.contains("classname=\"Runtime\""), "{xml}");
    assert!(xml.contains("<failure message="), "{xml}");
    assert!(xml.contains("<error message="), "{xml}");
    assert!(xml.contains("<skipped message="), "{xml}");
    validate_junit(&xml, dir.path());

    // With --strict the sign-off the gate waits for is a failure: the test report is red too.
    let strict = check(
        &[
            "--checklist",
            &list,
            "--target",
            &target,
            "--format",
            "junit",
            "--strict",
        ],
        &[],
        dir.path(),
    )
    .await;
    assert_exit(&strict, 1);
    let xml = stdout(&strict);
    assert!(!xml.contains("<skipped"), "{xml}");
    assert!(xml.contains("needs sign-off by a person"), "{xml}");
    validate_junit(&xml, dir.path());
}

#[tokio::test]
async fn markdown_report_reimports_to_the_same_checklist() {
    let target = good_target().await;
    let dir = tempfile::tempdir().unwrap();
    let source = example("web-service.md");
    let out = check(
        &[
            "--checklist",
            &source,
            "--target",
            &target,
            "--format",
            "markdown",
        ],
        &[],
        dir.path(),
    )
    .await;
    // Several kinds cannot pass against this small target: not ready, whatever else happens.
    assert_exit(&out, 1);
    let markdown = stdout(&out);
    let original = parse_checklist(&std::fs::read_to_string(&source).unwrap()).unwrap();
    let exported = parse_checklist(&markdown).unwrap();
    assert_eq!(exported.title, original.title);
    assert_eq!(exported.sections, original.sections);
    let shape = |c: &preflight_domain::Checklist| {
        c.items
            .iter()
            .map(|i| (i.key.clone(), i.text.clone(), i.check.clone(), i.optional))
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&exported), shape(&original));
    // Passed items are ticked with the evidence sentence as their note.
    let health = markdown
        .lines()
        .find(|l| l.contains("Liveness and readiness endpoints answer 2xx"))
        .unwrap();
    assert!(health.starts_with("- [x]"), "{health}");
    assert!(
        health.contains("<!-- state -->") && health.contains("passed by preflight check"),
        "{health}"
    );
    let manual = markdown
        .lines()
        .find(|l| l.contains("Backups run"))
        .unwrap();
    assert!(
        manual.starts_with("- [ ]") && !manual.contains("<!-- state -->"),
        "{manual}"
    );
}

#[tokio::test]
async fn text_is_plain_when_piped_and_output_writes_the_file() {
    let target = good_target().await;
    let dir = tempfile::tempdir().unwrap();
    let list = write(dir.path(), "mixed.md", MIXED);
    let out = check(
        &["--checklist", &list, "--target", &target],
        &[],
        dir.path(),
    )
    .await;
    let text = stdout(&out);
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(
        text.contains("## Runtime") && text.contains("## People"),
        "{text}"
    );
    let lines: Vec<&str> = text.lines().collect();
    let health = lines
        .iter()
        .position(|l| l.contains("Health endpoints answer"))
        .unwrap();
    let headers = lines
        .iter()
        .position(|l| l.contains("Security headers are sent"))
        .unwrap();
    assert!(health < headers, "checklist order:\n{text}");
    assert!(
        lines[health].contains("[health]"),
        "kind shown: {}",
        lines[health]
    );

    let report = dir.path().join("out/report.json");
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    let path = report.display().to_string();
    let out = check(
        &[
            "--checklist",
            &list,
            "--target",
            &target,
            "--format",
            "json",
            "--output",
            &path,
        ],
        &[],
        dir.path(),
    )
    .await;
    assert_exit(&out, 0);
    assert!(out.stdout.is_empty(), "the report went to the file");
    assert!(stderr(&out).contains("READY"), "summary on stderr");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(written["ready"], true);
}

#[tokio::test]
async fn credentials_never_appear_in_any_format() {
    let target = echo_target().await;
    let dir = tempfile::tempdir().unwrap();
    let token = "tok-3c9f1b7a5e2d";
    let key = "key-8d7e6f5a4b3c";
    // The config lives elsewhere than the working directory: value_file is relative to it.
    write(dir.path(), "conf/api-key.txt", &format!("{key}\n"));
    let config = write(
        dir.path(),
        "conf/ci.toml",
        "[target]\nname = \"echo\"\n\n\
         [[target.credentials]]\nheader = \"Authorization\"\nvalue_env = \"CHECK_TEST_TOKEN\"\nprefix = \"Bearer \"\n\n\
         [[target.credentials]]\nheader = \"X-Api-Key\"\nvalue_file = \"api-key.txt\"\n",
    );
    let list = write(
        dir.path(),
        "echo.md",
        "# Echo\n\n## Runtime\n\
         - [ ] Health answers <!-- check: health -->\n\
         - [ ] Home page answers <!-- check: http path=/ status=201 -->\n\
         - [ ] Headers are sent <!-- check: security_headers -->\n\
         - [ ] A person looked\n",
    );
    let env = [("CHECK_TEST_TOKEN", token)];
    for format in ["text", "json", "junit", "markdown"] {
        let out = check(
            &[
                "--checklist",
                &list,
                "--target",
                &target,
                "--config",
                &config,
                "--format",
                format,
            ],
            &env,
            dir.path(),
        )
        .await;
        assert_exit(&out, 1);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains(token), "{format} shows the token:\n{all}");
        assert!(
            !all.contains(key),
            "{format} shows the key file's value:\n{all}"
        );
        if format == "json" {
            // The target did receive and echo them: the evidence shows where they were removed.
            assert!(all.contains("[redacted]"), "{all}");
            assert!(
                all.contains("\"service\": \"echo\""),
                "service name from the config"
            );
        }
    }
}
