//! Regression tests of the security review's findings on the HTTP server (issue #12): slow
//! clients are cut off, `/health/ready` is cached and limited, the OpenAPI document declares
//! what the validation answers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::harness::{Options, TestApp};

/// Whether the server closed `stream` within `within` (EOF, or a reset).
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).expect("read timeout");
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // A 408 or similar before closing is fine; keep reading until EOF.
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
        if Instant::now() > deadline {
            return false;
        }
    }
}

#[tokio::test]
async fn a_client_trickling_headers_is_disconnected() {
    let app = TestApp::spawn_with(Options::default().env("HEADER_READ_TIMEOUT", "1s")).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let slow = tokio::task::spawn_blocking(move || {
        let mut silent = TcpStream::connect(&addr).unwrap();
        let mut partial = TcpStream::connect(&addr).unwrap();
        partial
            .write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        // Still trickling: one more header line, never the blank line.
        let _ = partial.write_all(b"X-Slow: 1\r\n");
        (
            closed_within(&mut silent, Duration::from_secs(4)),
            closed_within(&mut partial, Duration::from_secs(4)),
        )
    })
    .await
    .unwrap();
    assert_eq!(slow, (true, true), "(silent, trickling) closed");
    // Well-behaved clients are served as before.
    app.get("/health/live").expect_status(200).await;
}

#[tokio::test]
async fn health_ready_is_cached_briefly_and_limited_per_address() {
    let app = TestApp::spawn_with(Options::default().env("RATE_LIMIT_HEALTH", "4/m")).await;
    let checked_at = async || -> String {
        let body: serde_json::Value = app.get("/health/ready").expect_json(200).await;
        body["checked_at"].as_str().unwrap().to_owned()
    };
    let first = checked_at().await;
    assert_eq!(checked_at().await, first, "answered from the last check");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let third = checked_at().await;
    assert_ne!(third, first, "checked again after two seconds");
    checked_at().await;
    let p = app.get("/health/ready").expect_problem(429).await;
    assert_eq!(p["type"], "urn:preflight:problem:rate-limited");
    // Liveness is never limited: the orchestrator must not restart a healthy process.
    for _ in 0..10 {
        app.get("/health/live").expect_status(200).await;
    }
}
