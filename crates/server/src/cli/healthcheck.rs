//! `preflight healthcheck`: a probe for container runtimes that need no curl in the image.

use std::process::ExitCode;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::Settings;

/// Speaks just enough HTTP/1.1 to read a status line: pulling an HTTP client into the probe
/// path would add nothing but start-up time.
pub async fn run(settings: &Settings, url: Option<String>) -> ExitCode {
    let (host, port, path) = match url {
        Some(u) => match url::Url::parse(&u) {
            Ok(p) if p.scheme() == "http" => (
                p.host_str().unwrap_or("127.0.0.1").to_owned(),
                p.port_or_known_default().unwrap_or(80),
                p.path().to_owned(),
            ),
            _ => {
                eprintln!("unhealthy: --url must be an http:// URL");
                return ExitCode::FAILURE;
            }
        },
        None => {
            let host = if settings.host.is_unspecified() {
                "127.0.0.1".to_owned()
            } else {
                settings.host.to_string()
            };
            (host, settings.port, "/health/live".to_owned())
        }
    };
    let probe = async {
        let mut stream = TcpStream::connect((host.as_str(), port)).await?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: preflight-healthcheck\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await?;
        let mut buf = vec![0u8; 64];
        let n = stream.read(&mut buf).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf[..n]).to_string())
    };
    match tokio::time::timeout(Duration::from_secs(3), probe).await {
        Ok(Ok(head)) if head.starts_with("HTTP/1.1 2") => {
            println!("healthy");
            ExitCode::SUCCESS
        }
        Ok(Ok(head)) => {
            eprintln!("unhealthy: {}", head.lines().next().unwrap_or(""));
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("unhealthy: no answer within 3 s");
            ExitCode::FAILURE
        }
    }
}
