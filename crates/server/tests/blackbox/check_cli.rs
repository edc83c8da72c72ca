//! `preflight check`, the CI gate: the built binary against axum targets on 127.0.0.1.
//! Exit codes here; formats and secrets in `formats`, server mode in `server`.

pub mod formats;
mod server;
mod support;

use support::{
    MIXED, assert_exit, bare_target, check, example, good_target, stderr, stdout, write,
};

#[tokio::test]
async fn every_check_passing_exits_0_even_in_a_production_environment() {
    let target = good_target().await;
    let dir = tempfile::tempdir().unwrap();
    // A broken service configuration must not matter to the gate: it never reads it.
    let production = [
        ("ENVIRONMENT", "production"),
        ("SECRET_KEY", "changeme"),
        ("DATABASE_URL", "postgres://nowhere.invalid/db"),
        ("PORT", "eighty"),
    ];
    let out = check(
        &["--checklist", &example("minimal.md"), "--target", &target],
        &production,
        dir.path(),
    )
    .await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("2 passed, 0 failed, 0 errors, 0 need sign-off — READY"),
        "{text}"
    );
    assert!(text.contains("PASS"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "piped output has no escape codes:\n{text}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing of the service was started"
    );
}

#[tokio::test]
async fn a_failing_item_exits_1_with_the_reason() {
    let target = bare_target().await;
    let dir = tempfile::tempdir().unwrap();
    let out = check(
        &["--checklist", &example("minimal.md"), "--target", &target],
        &[],
        dir.path(),
    )
    .await;
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("FAIL"), "{text}");
    assert!(text.contains("X-Content-Type-Options is missing"), "{text}");
    assert!(
        text.contains("1 passed, 1 failed") && text.contains("NOT READY"),
        "{text}"
    );

    // An unreachable target is an error outcome: not ready either.
    let out = check(
        &[
            "--checklist",
            &example("minimal.md"),
            "--target",
            "http://127.0.0.1:9",
        ],
        &[],
        dir.path(),
    )
    .await;
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("2 errors"), "{}", stdout(&out));
}

#[tokio::test]
async fn usage_checklist_and_config_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let minimal = example("minimal.md");
    let t = "http://127.0.0.1:9";
    let expect = async |args: &[&str], env: &[(&str, &str)], needles: &[&str]| {
        let out = check(args, env, d).await;
        assert_exit(&out, 2);
        let err = stderr(&out);
        for needle in needles {
            assert!(err.contains(needle), "{args:?}: {needle:?} in:\n{err}");
        }
        err
    };
    // clap's own usage errors.
    expect(&[], &[], &["--checklist"]).await;
    expect(
        &["--checklist", &minimal, "--target", t, "--concurrency", "0"],
        &[],
        &["--concurrency"],
    )
    .await;
    expect(
        &["--checklist", &minimal, "--target", t, "--timeout", "3x"],
        &[],
        &["--timeout"],
    )
    .await;
    expect(
        &["--checklist", &minimal, "--target", t, "--format", "yaml"],
        &[],
        &["--format"],
    )
    .await;
    let err = expect(
        &["--checklist", &minimal, "--target", t, "--kind", "nope"],
        &[],
        &["nope"],
    )
    .await;
    for known in preflight_domain::kinds() {
        assert!(err.contains(known), "known kinds are listed: {err}");
    }
    expect(
        &[
            "--checklist",
            &minimal,
            "--target",
            t,
            "--kind",
            "loki_logs",
        ],
        &[],
        &["no item has a check of kind loki_logs"],
    )
    .await;
    // Checklist errors name the file and line.
    expect(
        &["--checklist", "missing.md", "--target", t],
        &[],
        &["missing.md: cannot read"],
    )
    .await;
    let bad = write(
        d,
        "bad.md",
        "# Bad\n\n- [ ] fine\n- [ ] broken <!-- check: health bogus=1 -->\n",
    );
    expect(
        &["--checklist", &bad, "--target", t],
        &[],
        &[&format!("error: {bad}:4: "), "bogus"],
    )
    .await;
    expect(&["--checklist", &minimal], &[], &["no target"]).await;
    expect(
        &["--checklist", &minimal, "--target", "ftp://example.com"],
        &[],
        &["http:// or https://"],
    )
    .await;
    // Config errors: an unknown key (named, with its line), a missing variable, a bad limit.
    let typo = write(
        d,
        "typo.toml",
        "[target]\nname = \"x\"\n\n[limits]\ntimeuot = \"5s\"\n",
    );
    expect(
        &["--checklist", &minimal, "--target", t, "--config", &typo],
        &[],
        &[&format!("{typo}:5:"), "timeuot"],
    )
    .await;
    let env = write(
        d,
        "env.toml",
        "[[target.credentials]]\nheader = \"Authorization\"\nvalue_env = \"CHECK_MISSING_TOKEN\"\n",
    );
    expect(
        &["--checklist", &minimal, "--target", t, "--config", &env],
        &[],
        &["CHECK_MISSING_TOKEN", "is not set"],
    )
    .await;
    let file = write(
        d,
        "file.toml",
        "[[target.credentials]]\nheader = \"X-Key\"\nvalue_file = \"nope.txt\"\n",
    );
    expect(
        &["--checklist", &minimal, "--target", t, "--config", &file],
        &[],
        &["nope.txt"],
    )
    .await;
    let limit = write(d, "limit.toml", "[limits]\nconcurrency = 0\n");
    expect(
        &["--checklist", &minimal, "--target", t, "--config", &limit],
        &[],
        &["limits.concurrency"],
    )
    .await;
    expect(
        &[
            "--checklist",
            &minimal,
            "--target",
            t,
            "--config",
            "absent.toml",
        ],
        &[],
        &["absent.toml"],
    )
    .await;
}

#[tokio::test]
async fn kind_filter_runs_only_those_kinds() {
    let target = bare_target().await;
    let dir = tempfile::tempdir().unwrap();
    let list = write(dir.path(), "mixed.md", MIXED);
    // security_headers would fail on this target: filtered out, the gate passes.
    let out = check(
        &[
            "--checklist",
            &list,
            "--target",
            &target,
            "--kind",
            "health",
            "--format",
            "json",
        ],
        &[],
        dir.path(),
    )
    .await;
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{report}");
    assert_eq!(items[0]["kind"], "health");
    let out = check(
        &[
            "--checklist",
            &list,
            "--target",
            &target,
            "--kind",
            "health",
            "--kind",
            "security_headers",
        ],
        &[],
        dir.path(),
    )
    .await;
    assert_exit(&out, 1);
}

#[tokio::test]
async fn strict_makes_manual_items_block() {
    let target = good_target().await;
    let dir = tempfile::tempdir().unwrap();
    let list = write(dir.path(), "mixed.md", MIXED);
    let out = check(
        &["--checklist", &list, "--target", &target],
        &[],
        dir.path(),
    )
    .await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("SIGN-OFF") && text.contains("Someone is on call"),
        "{text}"
    );
    assert!(text.contains("1 needs sign-off — READY"), "{text}");
    let out = check(
        &["--checklist", &list, "--target", &target, "--strict"],
        &[],
        dir.path(),
    )
    .await;
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("NOT READY"));
    // Optional manual items never block, even with --strict.
    let optional = write(
        dir.path(),
        "optional.md",
        "# O\n\n- [ ] Health <!-- check: health -->\n- [ ] A game day (optional)\n",
    );
    let out = check(
        &["--checklist", &optional, "--target", &target, "--strict"],
        &[],
        dir.path(),
    )
    .await;
    assert_exit(&out, 0);
}
