use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;
use crate::cli::check::args::Format;

fn args(config: Option<PathBuf>) -> CheckArgs {
    CheckArgs {
        checklist: Some("builtin".into()),
        target: None,
        config,
        format: Format::Text,
        output: None,
        kinds: Vec::new(),
        concurrency: None,
        timeout: None,
        strict: false,
        server: None,
        service: None,
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn the_documented_example_is_accepted() {
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "token", "t0ken-from-file\n");
    let config = write(
        dir.path(),
        "ci.toml",
        r#"
[target]
url = "https://api.example.com"
name = "billing"
job = "billing"
log_selector = '{service="billing"}'
plain_http_url = "http://api.example.com"
[[target.credentials]]
header = "Authorization"
value_file = "token"
prefix = "Bearer "
paths = "/metrics"
[prometheus]
url = "http://127.0.0.1:9090"
[[prometheus.credentials]]
header = "X-Token"
value = "literal-value"
[grafana]
url = "http://127.0.0.1:3000"
[network]
allow = ["127.0.0.0/8", "10.1.2.3"]
deny = ["10.9.0.0/16"]
[limits]
timeout = "20s"
connect_timeout = "2s"
concurrency = 8
max_requests = 12
max_body_bytes = 4096
per_host_concurrency = 2
"#,
    );
    let settings = load(&args(Some(config))).expect("loads");
    let target = &settings.target;
    assert_eq!(target.base_url.as_str(), "https://api.example.com/");
    assert_eq!(target.name.as_deref(), Some("billing"));
    assert_eq!(
        target.log_selector.as_deref(),
        Some("{service=\"billing\"}")
    );
    let credential = &target.credentials[0];
    assert_eq!(credential.value.expose_secret(), "Bearer t0ken-from-file");
    assert_eq!(credential.path_prefix.as_deref(), Some("/metrics"));
    assert!(
        target
            .prometheus
            .as_ref()
            .is_some_and(|p| p.credentials.len() == 1)
    );
    assert!(target.grafana.is_some() && target.loki.is_none());
    // Both spellings of a prefixed value are scrubbed, the longer first.
    assert_eq!(
        settings.secrets,
        vec!["Bearer t0ken-from-file", "t0ken-from-file", "literal-value"]
    );
    let engine = &settings.engine;
    assert_eq!(engine.default_timeout, Duration::from_secs(20));
    assert_eq!(engine.connect_timeout, Duration::from_secs(2));
    assert_eq!((engine.concurrency, engine.max_requests), (8, 12));
    assert_eq!(
        (engine.max_body_bytes, engine.per_host_concurrency),
        (4096, 2)
    );
    assert_eq!(engine.network.allow.len(), 2);
    assert!(
        engine
            .network
            .check("10.9.1.1".parse().expect("ip"))
            .is_err()
    );
}

#[test]
fn the_command_line_wins_over_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = write(
        dir.path(),
        "ci.toml",
        "[target]\nurl = \"http://a.example\"\n[limits]\ntimeout = \"20s\"\nconcurrency = 3\n",
    );
    let mut a = args(Some(config));
    a.target = Some("http://b.example:8080".into());
    a.timeout = Some(Duration::from_secs(5));
    a.concurrency = Some(9);
    let settings = load(&a).expect("loads");
    assert_eq!(settings.target.base_url.as_str(), "http://b.example:8080/");
    assert_eq!(settings.engine.default_timeout, Duration::from_secs(5));
    assert_eq!(settings.engine.concurrency, 9);
}

fn error_of(text: &str) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let config = write(dir.path(), "ci.toml", text);
    let mut a = args(Some(config));
    a.target = Some("http://127.0.0.1:8000".into());
    match load(&a) {
        Ok(_) => panic!("{text} should be refused"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn mistakes_are_named_and_values_never_echoed() {
    let e = error_of("[target]\nname = \"x\"\n[[target.credentials]]\nheadr = \"A\"\n");
    assert!(e.contains("ci.toml:4: unknown field `headr`"), "{e}");
    let e = error_of("[[target.credentials]]\nheader = \"A\"\nvalue = 987654321\n");
    assert!(e.contains(":3: a credential value must be a string"), "{e}");
    assert!(!e.contains("987654321"), "{e}");
    let e = error_of("[[target.credentials]]\nheader = \"A\"\nvalue = \"x\"\nvalue_env = \"Y\"\n");
    assert!(
        e.contains("target.credentials[0]: give exactly one of"),
        "{e}"
    );
    let e = error_of(
        "[[target.credentials]]\nheader = \"A\"\nvalue_env = \"PREFLIGHT_CHECK_UNSET_VAR_1\"\n",
    );
    assert!(
        e.contains("environment variable PREFLIGHT_CHECK_UNSET_VAR_1 is not set"),
        "{e}"
    );
    let e = error_of("[[grafana.credentials]]\nheader = \"A\"\nvalue = \"x\"\n");
    assert!(e.contains("missing field `url`"), "{e}");
    let e = error_of("[grafana]\nurl = \"http://u:hunter2@grafana.example\"\n");
    assert!(
        e.contains("user name or password") && !e.contains("hunter2"),
        "{e}"
    );
    let e = error_of("[[target.credentials]]\nheader = \"Bad Header\"\nvalue = \"x\"\n");
    assert!(e.contains("not a valid header name"), "{e}");
    let e = error_of("[[target.credentials]]\nheader = \"A\"\nvalue = \"line\\nzzqv\"\n");
    assert!(
        e.contains("not a valid header value") && !e.contains("zzqv"),
        "{e}"
    );
    let e = error_of("[network]\nallow = [\"10.0.0.0/33\"]\n");
    assert!(e.contains("network.allow"), "{e}");
    let e = error_of("[limits]\ntimeout = \"1h\"\n");
    assert!(e.contains("limits.timeout: 1h must be between"), "{e}");
    let e = error_of("[limits]\nper_host_concurrency = 65\n");
    assert!(
        e.contains("limits.per_host_concurrency: 65 must be between 1 and 64"),
        "{e}"
    );
    let e = error_of("[tls]\nca_file = \"missing.pem\"\n");
    assert!(
        e.contains("cannot read tls.ca_file") && e.contains("missing.pem"),
        "{e}"
    );
    let e = error_of("not toml at all = = =\n");
    assert!(e.contains("ci.toml:1:"), "{e}");
}

#[test]
fn the_example_config_of_the_repository_loads() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/preflight-check.toml");
    let text = std::fs::read_to_string(&path).expect("examples/preflight-check.toml");
    let file = parse(&text, "preflight-check.toml").expect("the example parses");
    assert_eq!(file.target.job.as_deref(), Some("preflight"));
    assert!(file.prometheus.is_some() && file.grafana.is_some());
}
