//! The baseline: a bare axum JSON handler in a process of its own (the bench binary itself,
//! `preflight-bench baseline PORT`), measured in the same run as preflight.

use std::time::Duration;

use anyhow::bail;

/// The bare axum process: the bench binary itself (`preflight-bench baseline PORT`).
pub struct Baseline {
    child: std::process::Child,
    pub url: String,
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Baseline {
    pub async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new(std::env::current_exe()?)
            .arg("baseline")
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let url = format!("http://127.0.0.1:{port}/");
        let client = reqwest::Client::new();
        for _ in 0..500 {
            if client.get(&url).send().await.is_ok() {
                return Ok(Self { child, url });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!("the baseline did not start")
    }
}

/// Largest body `GET /bytes/{n}` serves.
const MAX_SIZED: usize = 16 * 1024 * 1024;

/// Serves the baseline: one JSON handler on a default multi-threaded runtime, no middleware.
/// `GET /bytes/{n}` answers `n` bytes (prepared once, shared, not copied; what they say does
/// not matter to the transport): the
/// same-size baseline of an endpoint whose body is large, where sending the bytes through the
/// kernel costs more than anything the handler does.
pub fn serve_baseline(port: u16) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let filler = bytes::Bytes::from(vec![b'x'; MAX_SIZED]);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let sized = move |axum::extract::Path(n): axum::extract::Path<usize>| {
            let filler = filler.clone();
            async move {
                (
                    [("content-type", "application/json")],
                    filler.slice(..n.min(MAX_SIZED)),
                )
            }
        };
        let app = axum::Router::new()
            .route(
                "/",
                axum::routing::get(|| async {
                    axum::Json(serde_json::json!({"status": "ok", "ready": true}))
                }),
            )
            .route("/bytes/{n}", axum::routing::get(sized));
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}
