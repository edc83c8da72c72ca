//! Configuration parsing and the production refusal list, one test per refusal.

use std::collections::HashMap;

use super::*;

const GOOD_SECRET: &str = "Zq8v3LmN0pR5tY7wB2xC4dF6gH9jK1sA";
const GOOD_ENC: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn production(overrides: &[(&str, Option<&str>)]) -> Result<Settings, ConfigError> {
    let mut env: HashMap<String, String> = [
        ("ENVIRONMENT", "production"),
        ("SECRET_KEY", GOOD_SECRET),
        ("ENCRYPTION_KEY", GOOD_ENC),
        ("ADMIN_PASSWORD", "Correct-Horse-Battery-42"),
        ("ALLOWED_ORIGINS", "https://preflight.example.com"),
        ("METRICS_TOKEN", "a-long-random-metrics-token-123"),
        ("HTTPS_UPSTREAM", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in overrides {
        match v {
            Some(v) => env.insert((*k).to_owned(), (*v).to_owned()),
            None => env.remove(*k),
        };
    }
    Settings::from_lookup(|k| env.get(k).cloned())
}

fn refusal(overrides: &[(&str, Option<&str>)]) -> Vec<String> {
    let s = production(overrides).unwrap();
    match s.check_for_start() {
        Err(e) => e.problems,
        Ok(_) => Vec::new(),
    }
}

#[test]
fn a_sound_production_configuration_starts() {
    assert!(refusal(&[]).is_empty(), "{:?}", refusal(&[]));
}

#[test]
fn development_needs_no_variable() {
    let s = Settings::from_lookup(|_| None).unwrap();
    assert_eq!(s.environment, Environment::Development);
    assert_eq!(s.bind_addr().to_string(), "127.0.0.1:8000");
    assert!(s.db.url.starts_with("sqlite://./data/"));
    assert!(s.redis_url.is_none());
    assert!(s.migrate_on_start);
    // Problems are warnings in development, not refusals.
    assert!(s.check_for_start().is_ok());
}

#[test]
fn refuses_missing_secret_key() {
    let p = refusal(&[("SECRET_KEY", None)]);
    assert!(p.iter().any(|p| p.contains("SECRET_KEY")), "{p:?}");
}

#[test]
fn refuses_short_secret_key() {
    let p = refusal(&[("SECRET_KEY", Some("Zq8v3LmN0pR5"))]);
    assert!(p.iter().any(|p| p.contains("SECRET_KEY")), "{p:?}");
}

#[test]
fn refuses_placeholder_secret_key() {
    let p = refusal(&[(
        "SECRET_KEY",
        Some("change-me-change-me-change-me-change-me"),
    )]);
    assert!(p.iter().any(|p| p.contains("SECRET_KEY")), "{p:?}");
}

#[test]
fn refuses_missing_encryption_key() {
    let p = refusal(&[("ENCRYPTION_KEY", None)]);
    assert!(p.iter().any(|p| p.contains("ENCRYPTION_KEY")), "{p:?}");
}

#[test]
fn refuses_short_or_malformed_encryption_key() {
    let p = refusal(&[("ENCRYPTION_KEY", Some("9f86d081884c7d659a2feaa0c55ad015"))]);
    assert!(p.iter().any(|p| p.contains("ENCRYPTION_KEY")), "{p:?}");
}

#[test]
fn refuses_equal_keys() {
    let p = refusal(&[
        ("ENCRYPTION_KEY", Some(GOOD_ENC)),
        ("SECRET_KEY", Some(GOOD_ENC)),
    ]);
    assert!(p.iter().any(|p| p.contains("must be different")), "{p:?}");
}

#[test]
fn refuses_default_admin_password() {
    let p = refusal(&[("ADMIN_PASSWORD", None)]);
    assert!(
        p.iter()
            .any(|p| p.contains("ADMIN_PASSWORD") && p.contains("default")),
        "{p:?}"
    );
}

#[test]
fn refuses_weak_admin_password() {
    let p = refusal(&[("ADMIN_PASSWORD", Some("password123"))]);
    assert!(
        p.iter().any(|p| p.contains("ADMIN_PASSWORD is weak")),
        "{p:?}"
    );
}

#[test]
fn refuses_empty_allowed_origins() {
    let p = refusal(&[("ALLOWED_ORIGINS", None)]);
    assert!(
        p.iter().any(|p| p.contains("ALLOWED_ORIGINS is empty")),
        "{p:?}"
    );
}

#[test]
fn refuses_wildcard_origin() {
    let p = refusal(&[("ALLOWED_ORIGINS", Some("https://a.example.com,*"))]);
    assert!(p.iter().any(|p| p.contains("wildcard")), "{p:?}");
}

#[test]
fn refuses_missing_metrics_token() {
    let p = refusal(&[("METRICS_TOKEN", None)]);
    assert!(p.iter().any(|p| p.contains("METRICS_TOKEN")), "{p:?}");
}

#[test]
fn refuses_plain_http_without_a_declared_tls_proxy() {
    let p = refusal(&[("HTTPS_UPSTREAM", None)]);
    assert!(p.iter().any(|p| p.contains("HTTPS_UPSTREAM")), "{p:?}");
    let p = refusal(&[("HTTPS_UPSTREAM", Some("false"))]);
    assert!(p.iter().any(|p| p.contains("HTTPS_UPSTREAM")), "{p:?}");
}

#[test]
fn login_limits_default_from_rate_limit_login() {
    let s = production(&[("RATE_LIMIT_LOGIN", Some("4/m"))]).unwrap();
    let r = &s.rate_limit;
    assert_eq!((r.login.burst, r.login.per.as_secs()), (4, 60));
    assert_eq!(
        (r.login_address.burst, r.login_address.per.as_secs()),
        (4, 60)
    );
    assert_eq!(
        (r.login_account.burst, r.login_account.per.as_secs()),
        (40, 60)
    );
    let s = production(&[("RATE_LIMIT_LOGIN_ACCOUNT", Some("7/h"))]).unwrap();
    assert_eq!(s.rate_limit.login_account.burst, 7);
}

#[test]
fn lists_every_problem_at_once() {
    let p = refusal(&[
        ("SECRET_KEY", None),
        ("ENCRYPTION_KEY", None),
        ("ADMIN_PASSWORD", None),
        ("ALLOWED_ORIGINS", Some("*")),
        ("METRICS_TOKEN", None),
    ]);
    for name in [
        "SECRET_KEY",
        "ENCRYPTION_KEY",
        "ADMIN_PASSWORD",
        "ALLOWED_ORIGINS",
        "METRICS_TOKEN",
    ] {
        assert!(p.iter().any(|p| p.contains(name)), "{name} in {p:?}");
    }
}

#[test]
fn secrets_are_read_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, format!("{GOOD_SECRET}\n")).unwrap();
    let path_s = path.display().to_string();
    let s = production(&[
        ("SECRET_KEY", None),
        ("SECRET_KEY_FILE", Some(path_s.as_str())),
    ])
    .unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(s.secret_key.unwrap().expose_secret(), GOOD_SECRET);
    let err = production(&[
        ("SECRET_KEY", None),
        ("SECRET_KEY_FILE", Some("/nonexistent/file")),
    ])
    .unwrap_err();
    assert!(err.problems[0].contains("SECRET_KEY_FILE"));
}

#[test]
fn malformed_values_are_all_reported() {
    let env: HashMap<&str, &str> = [
        ("PORT", "eighty"),
        ("DB_ACQUIRE_TIMEOUT", "5 parsecs"),
        ("TRUSTED_PROXIES", "10.0.0.0/8,nonsense"),
        ("ENVIRONMENT", "prod-ish"),
    ]
    .into_iter()
    .collect();
    let err = Settings::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).unwrap_err();
    assert_eq!(err.problems.len(), 4, "{err}");
}

#[test]
fn rates_and_durations_parse() {
    let r: RateSpec = "10/15m".parse().unwrap();
    assert_eq!((r.burst, r.per.as_secs()), (10, 900));
    let r: RateSpec = "60/m".parse().unwrap();
    assert_eq!((r.burst, r.per.as_secs()), (60, 60));
    assert!("0/m".parse::<RateSpec>().is_err());
    assert!("ten/m".parse::<RateSpec>().is_err());
    assert_eq!(parse::parse_duration("250ms").unwrap().as_millis(), 250);
    assert_eq!(parse::parse_duration("2d").unwrap().as_secs(), 172_800);
}

#[test]
fn http_redirect_port_needs_native_tls_and_its_own_port() {
    let lookup = |pairs: &[(&str, &str)]| {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(move |k| env.get(k).cloned())
    };
    let tls = [("TLS_CERT", "/tls/cert.pem"), ("TLS_KEY", "/tls/key.pem")];
    assert_eq!(lookup(&tls).unwrap().http_redirect_port, None);
    let with = |extra: &[(&str, &str)]| {
        let mut pairs = tls.to_vec();
        pairs.extend_from_slice(extra);
        lookup(&pairs)
    };
    assert_eq!(
        with(&[("HTTP_REDIRECT_PORT", "8080")])
            .unwrap()
            .http_redirect_port,
        Some(8080)
    );
    // Port 0 (any free port) is allowed for both, as for PORT.
    assert!(with(&[("PORT", "0"), ("HTTP_REDIRECT_PORT", "0")]).is_ok());
    let err = with(&[("HTTP_REDIRECT_PORT", "http")]).unwrap_err();
    assert!(err.problems[0].contains("HTTP_REDIRECT_PORT"), "{err}");
    let err = with(&[("PORT", "8443"), ("HTTP_REDIRECT_PORT", "8443")]).unwrap_err();
    assert!(err.problems[0].contains("must differ from PORT"), "{err}");
    let err = lookup(&[("HTTP_REDIRECT_PORT", "8080")]).unwrap_err();
    assert!(err.problems[0].contains("needs native TLS"), "{err}");
}

#[test]
fn every_variable_the_service_reads_is_in_env_example() {
    let asked = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let _ = Settings::from_lookup(|name| {
        asked.lock().unwrap().insert(name.to_owned());
        None
    });
    let example = include_str!("../../../../.env.example");
    let documented: std::collections::BTreeSet<&str> = example
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    let missing: Vec<String> = asked
        .into_inner()
        .unwrap()
        .into_iter()
        .filter(|name| !name.ends_with("_FILE") && !documented.contains(name.as_str()))
        .collect();
    assert!(missing.is_empty(), "not in .env.example: {missing:?}");
}

#[test]
fn probe_settings_have_defaults_and_bounds() {
    let s = production(&[]).unwrap();
    assert!(s.probe.scheduler);
    assert_eq!(s.probe.interval, Duration::from_secs(900));
    assert_eq!(s.probe.concurrency, 64);
    let problems = production(&[
        ("PROBE_INTERVAL", Some("2s")),
        ("PROBE_CONCURRENCY", Some("0")),
        ("PROBE_LEASE", Some("1s")),
        ("GRAFANA_URL", Some("grafana:3000")),
        ("PROBE_DENY_NETWORKS", Some("10.0.0.0/8, nonsense")),
    ])
    .unwrap_err()
    .problems;
    for name in [
        "PROBE_INTERVAL",
        "PROBE_CONCURRENCY",
        "PROBE_LEASE",
        "GRAFANA_URL",
        "PROBE_DENY_NETWORKS",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(name)),
            "{name} not refused: {problems:?}"
        );
    }
    let s = production(&[
        ("PROMETHEUS_URL", Some("http://prometheus:9090")),
        ("PROMETHEUS_TOKEN", Some("t0ken")),
        ("PROBE_DENY_NETWORKS", Some("10.0.0.0/8,192.168.1.5")),
    ])
    .unwrap();
    let prom = s.probe.prometheus.unwrap();
    assert_eq!(prom.url.as_str(), "http://prometheus:9090/");
    assert!(prom.token.is_some());
    assert_eq!(s.probe.deny_networks.len(), 2);
}
