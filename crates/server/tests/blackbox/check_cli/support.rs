//! Helpers of the `preflight check` tests: the binary, axum targets and files.

use std::path::{Path, PathBuf};
use std::process::Output;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;

/// The repository's example checklists.
pub fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs `preflight check ARGS` with a clean environment (plus `env`) in `dir`.
pub async fn check(args: &[&str], env: &[(&str, &str)], dir: &Path) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_preflight"));
    cmd.arg("check")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.expect("run preflight check")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it is wrong.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// Serves `router` on a free port; the server lives as long as the test's runtime.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

async fn protective_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    res
}

fn health_routes() -> Router {
    Router::new()
        .route("/health/live", get(|| async { "ok" }))
        .route("/health/ready", get(|| async { "ok" }))
        .route("/", get(|| async { "home" }))
}

/// Healthy, with protective headers: `health` and `security_headers` pass.
pub async fn good_target() -> String {
    serve(health_routes().layer(axum::middleware::map_response(protective_headers))).await
}

/// Healthy but without security headers: `security_headers` fails.
pub async fn bare_target() -> String {
    serve(health_routes()).await
}

/// Answers every request with its headers on one line (credentials first); health endpoints
/// answer 503 so the body also lands in the evidence sentence.
pub async fn echo_target() -> String {
    async fn echo(status: StatusCode, headers: HeaderMap) -> (StatusCode, String) {
        let mut parts: Vec<String> = Vec::new();
        for name in ["authorization", "x-api-key"] {
            if let Some(v) = headers.get(name) {
                parts.push(format!("{name}={}", v.to_str().unwrap_or_default()));
            }
        }
        for (name, v) in &headers {
            parts.push(format!("{name}={}", v.to_str().unwrap_or_default()));
        }
        (status, parts.join("; "))
    }
    let router = Router::new()
        .route(
            "/health/live",
            get(|h: HeaderMap| echo(StatusCode::SERVICE_UNAVAILABLE, h)),
        )
        .route(
            "/health/ready",
            get(|h: HeaderMap| echo(StatusCode::SERVICE_UNAVAILABLE, h)),
        )
        .fallback(|h: HeaderMap| echo(StatusCode::OK, h));
    serve(router.layer(axum::middleware::map_response(protective_headers))).await
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Automated items of two kinds and a manual one.
pub const MIXED: &str = "# Mixed\n\n## Runtime\n\
- [ ] Health endpoints answer <!-- check: health -->\n\
- [ ] Security headers are sent <!-- check: security_headers -->\n\n\
## People\n\
- [ ] Someone is on call\n";
