use super::*;

fn def(text: &str) -> CheckSpec {
    CheckSpec::from_definition(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(text: &str) -> String {
    match CheckSpec::from_definition(text) {
        Ok(spec) => panic!("{text} parsed as {spec:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_apply() {
    let CheckSpec::Health(health) = def("health") else {
        panic!("not health")
    };
    assert_eq!(
        (health.live.as_str(), health.ready.as_str()),
        ("/health/live", "/health/ready")
    );
    let CheckSpec::RateLimit(rl) = def("rate_limit path=/api/v1/auth/login") else {
        panic!("not rate_limit")
    };
    assert_eq!((rl.burst, rl.method.as_str()), (50, "GET"));
    let CheckSpec::Tls(tls) = def("tls") else {
        panic!("not tls")
    };
    assert_eq!(tls.min_days, 14);
    let CheckSpec::LokiLogs(loki) = def("loki_logs") else {
        panic!("not loki")
    };
    assert_eq!(loki.window.to_string(), "15m");
    // Neither title nor uid: the service's dashboard (title containing the service's name).
    let CheckSpec::GrafanaDashboard(grafana) = def("grafana_dashboard") else {
        panic!("not grafana_dashboard")
    };
    assert_eq!((grafana.title, grafana.uid), (None, None));
    assert_eq!(
        def("grafana_dashboard").to_definition(),
        "grafana_dashboard"
    );
}

#[test]
fn typed_parameters() {
    let CheckSpec::Http(http) = def(
        r#"http method=post path=/api/v1/x status=201 header="Accept: application/json" condition="latency < 500ms" condition='body.$.status == "ok"' condition="cert_expiry > 14d""#,
    ) else {
        panic!("not http")
    };
    assert_eq!(http.method, "POST");
    assert_eq!(http.status, Some(201));
    assert_eq!(http.headers[0].name, "Accept");
    assert_eq!(http.headers[0].value, "application/json");
    assert_eq!(http.conditions.len(), 3);
    assert_eq!(http.conditions[1].operand, Some(Operand::Text("ok".into())));

    let CheckSpec::AuthRequired(auth) = def("auth_required paths=/a,/b paths=/c") else {
        panic!("not auth")
    };
    assert_eq!(auth.paths, ["/a", "/b", "/c"]);

    let CheckSpec::Promql(promql) =
        def("promql query='time() - preflight_backup_last_success_timestamp_seconds < 90000'")
    else {
        panic!("not promql")
    };
    assert!(promql.query.starts_with("time()"));
    assert_eq!(promql.condition, None);
    let CheckSpec::Promql(with_cond) = def(r#"promql query="up{job=\"api\"}" condition="== 1""#)
    else {
        panic!("not promql")
    };
    assert_eq!(with_cond.query, r#"up{job="api"}"#);
    assert_eq!(with_cond.condition.map(|c| c.value), Some(1.0));
}

#[test]
fn errors_name_the_problem() {
    assert!(err("helth").contains("unknown check kind \"helth\""));
    assert!(err("health life=/x").contains(
        "unknown parameter \"life\" for check \"health\" (expected: live, ready, timeout)"
    ));
    assert!(err("rate_limit burst=5000").contains("\"burst\": 5000 is out of range 1..=1000"));
    assert!(err("rate_limit burst=0").contains("burst"));
    assert!(err("rate_limit burst=lots").contains("\"burst\": \"lots\" is not a whole number"));
    assert!(err("rate_limit burst=1 burst=2").contains("\"burst\" is given more than once"));
    assert!(err("rate_limit method=BREW").contains("\"method\""));
    assert!(err("health live=health").contains("must start with /"));
    assert!(err("auth_required").contains("missing required parameter \"paths\""));
    assert!(err("promql").contains("\"query\""));
    assert!(err("grafana_dashboard title=\"\"").contains("\"title\""));
    assert!(err("tls min_days=9999").contains("min_days"));
    assert!(err("http status=42").contains("status"));
    assert!(err("http condition=\"latency < 5\"").contains("condition"));
    assert!(err("http header=NoColon").contains("header"));
    assert!(err("cors origin=example.com").contains("origin"));
    assert!(err("metrics require=1bad").contains("require"));
    assert!(err("loki_logs selector=app").contains("selector"));
    assert!(err("loki_logs window=5s").contains("window"));
    assert!(err("health live").contains("expected key=value"));
    assert!(err("health live=\"/x").contains("unterminated"));
    assert!(err("promql query=\"a --> b\"").contains("query"));
    assert!(err("").contains("missing check kind"));
}

#[test]
fn annotation_round_trips_for_every_kind() {
    let samples = [
        "http",
        r#"http method=DELETE path=/x status=204 header="X-Token: a b" condition="header.content-type contains json" condition="body.$.n >= 2.5""#,
        "health",
        "health live=/livez ready=/readyz",
        "metrics",
        "metrics path=/m require=http_requests_total,process_start_time_seconds",
        "openapi docs=/swagger spec=/api.json",
        "cors path=/api origin=https://evil.example allowed=https://app.example:8443",
        "rate_limit path=/api/v1/auth/login burst=10 method=POST",
        "auth_required paths=/api/v1/me,/api/v1/users method=HEAD",
        "tls min_days=30 host=example.com",
        "security_headers path=/login",
        "prometheus_target job=preflight",
        "prometheus_rules alerts=PreflightDown,PreflightBackupStale min_rules=3",
        "promql query='time() - preflight_backup_last_success_timestamp_seconds < 90000'",
        r#"promql query="sum(rate(x[5m]))" condition=">= 0.5""#,
        "alertmanager_receivers receivers=oncall min_receivers=2",
        r#"loki_logs selector='{service="preflight"}' window=1h min_lines=5"#,
        r#"grafana_dashboard title="Preflight overview" uid=abc123"#,
    ];
    let mut seen = std::collections::BTreeSet::new();
    for sample in samples {
        let spec = def(sample);
        seen.insert(spec.kind());
        let annotation = spec.to_annotation();
        assert!(annotation.starts_with("<!-- check: ") && annotation.ends_with(" -->"));
        assert_eq!(
            CheckSpec::from_annotation(&annotation).unwrap(),
            spec,
            "{annotation}"
        );
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(
            serde_json::from_str::<CheckSpec>(&json).unwrap(),
            spec,
            "{json}"
        );
    }
    assert_eq!(seen.len(), kinds().len(), "every kind sampled");
    assert_eq!(def("health").to_annotation(), "<!-- check: health -->");
}

#[test]
fn json_is_tagged_and_validated() {
    let spec: CheckSpec =
        serde_json::from_str(r#"{"kind":"rate_limit","path":"/login","method":"post"}"#).unwrap();
    assert_eq!(spec, def("rate_limit path=/login method=POST"));
    let json = serde_json::to_value(def("health")).unwrap();
    assert_eq!(json["kind"], "health");
    assert_eq!(json["live"], "/health/live");
    let http: CheckSpec =
        serde_json::from_str(r#"{"kind":"http","conditions":["status == 200","latency < 500ms"]}"#)
            .unwrap();
    assert_eq!(
        http,
        def(r#"http condition="status == 200" condition="latency < 500ms""#)
    );

    for bad in [
        r#"{"kind":"rate_limit","burst":1001}"#,
        r#"{"kind":"helth"}"#,
        r#"{"kind":"health","live":"x"}"#,
        r#"{"kind":"health","extra":1}"#,
        r#"{"kind":"http","conditions":["status = 200"]}"#,
        r#"{"kind":"auth_required"}"#,
    ] {
        assert!(serde_json::from_str::<CheckSpec>(bad).is_err(), "{bad}");
    }
}

#[test]
fn parse_takes_borrowed_pairs() {
    let spec = CheckSpec::parse("rate_limit", &[("path", "/login"), ("burst", "10")]).unwrap();
    assert_eq!(spec, def("rate_limit path=/login burst=10"));
}

#[test]
fn validate_after_direct_edits() {
    let mut spec = def("rate_limit");
    assert!(spec.validate().is_ok());
    if let CheckSpec::RateLimit(rl) = &mut spec {
        rl.burst = 2000;
    }
    assert!(spec.validate().is_err());
}

#[test]
fn catalogue_lists_every_kind() {
    assert_eq!(kinds().len(), 15);
    for kind in kinds() {
        assert!(CheckSpec::parameters(kind).is_some(), "{kind}");
    }
    assert_eq!(CheckSpec::parameters("nope"), None);
}

#[test]
fn every_kind_takes_a_timeout_that_round_trips() {
    let spec = def("rate_limit path=/login burst=20 timeout=30s");
    assert_eq!(spec.timeout(), Some(std::time::Duration::from_secs(30)));
    assert_eq!(
        spec.to_definition(),
        "rate_limit path=/login burst=20 timeout=30s"
    );
    assert_eq!(def("health").timeout(), None);
    assert_eq!(
        def("grafana_dashboard title=x timeout=500ms").to_definition(),
        "grafana_dashboard title=x timeout=500ms"
    );
    let json = serde_json::to_value(def("tls timeout=2m")).expect("serialises");
    assert_eq!(json["timeout"], "2m");
    let back: CheckSpec = serde_json::from_value(json).expect("reads back");
    assert_eq!(back.timeout(), Some(std::time::Duration::from_secs(120)));
    assert!(err("health timeout=10m").contains("\"timeout\": 10m must be between 100ms and 5m"));
    assert!(err("health timeout=soon").contains("\"timeout\": \"soon\" is not a duration"));
    let too_long = serde_json::json!({"kind": "health", "timeout": "1h"});
    assert!(serde_json::from_value::<CheckSpec>(too_long).is_err());
}
