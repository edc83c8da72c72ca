//! Overview cost against the number of services (issue #11: "flat once cached; report 100 /
//! 1,000 / 10,000 services"): per size, a fresh server (SQLite, in-process cache) populated
//! through the API, then the cold overview, the cached overview at load, and the first read
//! after a write.

use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::populate;
use crate::server::{Api, Launch, Server};
use crate::wrk;

pub struct Size {
    pub services: usize,
    pub populate: Duration,
    pub cold: Duration,
    pub bytes: usize,
    pub cached: wrk::Run,
    pub after_write: Duration,
    pub rss: f64,
}

pub async fn measure(bin: &str, sizes: &[usize], connections: usize) -> anyhow::Result<Vec<Size>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let mut out = Vec::new();
    for &n in sizes {
        let launch = Launch::new(bin);
        let started = Instant::now();
        let mut server = Server::start(&launch)?;
        server.ready(&client, started).await?;
        let api = Api::login(&client, &server.base).await?;
        let population = populate::populate(&api, n, false).await?;
        let overview = api.url("/api/v1/readiness");
        // Cold: the writes of the population left no overview cached.
        let t = Instant::now();
        let bytes = api
            .expect(client.get(&overview), StatusCode::OK, "cold overview")
            .await?
            .bytes()
            .await?
            .len();
        let cold = t.elapsed();
        let bearer = [("Authorization", format!("Bearer {}", api.token))];
        let cached = wrk::run(&wrk::Load {
            url: &overview,
            headers: &bearer,
            connections,
            seconds: 5,
            delay: None,
        })?;
        let mut after =
            populate::reads_after_writes(&api, &population.services, 5, &overview).await?;
        after.sort();
        out.push(Size {
            services: n,
            populate: population.took,
            cold,
            bytes,
            cached,
            after_write: after.get(after.len() / 2).copied().unwrap_or_default(),
            rss: server.rss_mib(),
        });
    }
    Ok(out)
}

pub fn print(sizes: &[Size]) {
    println!();
    println!("== overview cost by number of services (SQLite, in-process cache) ==");
    println!(
        "{:>9} {:>10} {:>12} {:>11} {:>14} {:>10} {:>16} {:>9}",
        "services",
        "populate",
        "cold read",
        "body",
        "cached req/s",
        "cached p50",
        "after a write",
        "RSS"
    );
    for s in sizes {
        println!(
            "{:>9} {:>9.1}s {:>10.1}ms {:>9.1}KB {:>14.0} {:>8.2}ms {:>14.1}ms {:>6.1}MiB",
            s.services,
            s.populate.as_secs_f64(),
            s.cold.as_secs_f64() * 1000.0,
            s.bytes as f64 / 1024.0,
            s.cached.rps,
            s.cached.p50.as_secs_f64() * 1000.0,
            s.after_write.as_secs_f64() * 1000.0,
            s.rss
        );
    }
}
