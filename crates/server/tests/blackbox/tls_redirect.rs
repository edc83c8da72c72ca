//! Native TLS with `HTTP_REDIRECT_PORT`: plain HTTP on its own port answers every request with
//! a 308 to the same host and path over HTTPS, and stops with the server.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Options, TestApp};

/// A self-signed certificate for localhost and 127.0.0.1, made with the openssl CLI.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl CLI");
    assert!(status.success(), "openssl made the test certificate");
    (cert, key)
}

/// The address of the redirect listener, from its start-up log line.
fn redirect_address(app: &TestApp) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = app
            .logs
            .lock()
            .expect("logs lock")
            .iter()
            .filter(|line| line.contains("plain HTTP redirects to HTTPS"))
            .find_map(|line| {
                let v: Value = serde_json::from_str(line).ok()?;
                let fields = v.get("fields").unwrap_or(&v);
                fields
                    .get("address")
                    .or_else(|| v.get("address"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        if let Some(address) = found {
            return address;
        }
        assert!(
            Instant::now() < deadline,
            "no redirect listener in the log:\n{}",
            app.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn plain_http_redirects_to_https_on_the_same_host_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let mut app = TestApp::spawn_with(
        Options::default()
            .env("TLS_CERT", cert.to_str().unwrap())
            .env("TLS_KEY", key.to_str().unwrap())
            .env("HTTP_REDIRECT_PORT", "0"),
    )
    .await;
    assert!(app.base.starts_with("https://"));
    let https_port = app.base.rsplit(':').next().unwrap().to_owned();
    let plain = redirect_address(&app);
    let plain_port = plain.rsplit(':').next().unwrap().to_owned();
    assert_ne!(plain_port, https_port);

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // The host the client asked for is kept (its port replaced by the HTTPS port), with the
    // path and query; 308 keeps the method, so a POST stays a POST.
    for (method, path) in [
        (reqwest::Method::GET, "/health/live"),
        (reqwest::Method::GET, "/api/v1/me?page=2"),
        (reqwest::Method::POST, "/api/v1/auth/login"),
    ] {
        let res = client
            .request(
                method.clone(),
                format!("http://localhost:{plain_port}{path}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 308, "{method} {path}");
        assert_eq!(
            res.headers()["location"].to_str().unwrap(),
            format!("https://localhost:{https_port}{path}"),
            "{method} {path}"
        );
    }
    let res = client
        .get(format!("http://{plain}/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("https://127.0.0.1:{https_port}/docs"));

    // Following the redirect reaches the HTTPS server.
    let res = app
        .client
        .get(format!("https://127.0.0.1:{https_port}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Shut down gracefully: the plain listener stops with the server.
    let status = app.terminate();
    assert!(status.success(), "clean exit: {status:?}");
    assert!(
        std::net::TcpStream::connect_timeout(&plain.parse().unwrap(), Duration::from_secs(1))
            .is_err(),
        "the redirect listener is closed after shutdown"
    );
}

#[test]
fn http_redirect_port_without_native_tls_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_preflight"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", dir.path())
        .env("PORT", "0")
        .env("HTTP_REDIRECT_PORT", "0")
        .current_dir(dir.path())
        .output()
        .expect("run preflight");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP_REDIRECT_PORT needs native TLS"), "{err}");
}
