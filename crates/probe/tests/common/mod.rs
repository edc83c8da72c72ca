//! Shared helpers of the probe tests: targets on 127.0.0.1 started by the test itself.

#![allow(dead_code)]

use std::time::Duration;

use preflight_domain::CheckSpec;
use preflight_probe::{Engine, EngineConfig, Outcome, Report, Target};
use url::Url;

/// Serves `router` on a free port of 127.0.0.1 and returns its base URL.
pub async fn serve(router: axum::Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Url::parse(&format!("http://{addr}")).expect("base URL")
}

/// An engine with the defaults but a short timeout, so a failing test fails fast.
pub fn engine() -> Engine {
    engine_with(EngineConfig {
        default_timeout: Duration::from_secs(5),
        ..EngineConfig::default()
    })
}

/// An engine with a given configuration.
pub fn engine_with(config: EngineConfig) -> Engine {
    Engine::new(config).expect("engine builds")
}

/// Parses an annotation body such as `health live=/up`.
pub fn check(definition: &str) -> CheckSpec {
    CheckSpec::from_definition(definition).expect("valid check definition")
}

/// Runs one check definition against `target` with the default test engine.
pub async fn run(definition: &str, target: &Target) -> Report {
    engine().run(&check(definition), target).await
}

/// Runs a check against a bare base URL.
pub async fn run_at(definition: &str, base: &Url) -> Report {
    run(definition, &Target::new(base.clone())).await
}

/// Asserts the outcome, printing the whole report when it differs.
#[track_caller]
pub fn assert_outcome(report: &Report, outcome: Outcome) {
    assert_eq!(
        report.outcome,
        outcome,
        "unexpected outcome; report:\n{}",
        serde_json::to_string_pretty(report).unwrap_or_default()
    );
}
