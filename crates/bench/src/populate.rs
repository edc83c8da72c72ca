//! A database of realistic size, made through the API as users make it: the seed checklist
//! (78 items) imported from its Markdown, services registered with owners, the checklist
//! attached to each, and about a quarter of every review signed off or failed (the audit log).

use std::time::{Duration, Instant};

use anyhow::Context;
use axum::http::StatusCode;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{Value, json};

use crate::server::Api;

/// The seed checklist as teams write it (the repository's example).
pub const SEED: &str = include_str!("../../../examples/seed/production-checklist.en.md");

/// Requests in flight while populating.
const PARALLEL: usize = 4;

/// One populated service.
#[derive(Clone, Debug)]
pub struct Service {
    pub id: String,
    pub review: String,
    /// Item keys of its review, in order.
    pub keys: Vec<String>,
}

/// What was made.
pub struct Population {
    pub checklist: String,
    pub services: Vec<Service>,
    /// Item decisions recorded (each an audit entry).
    pub decisions: usize,
    pub took: Duration,
}

/// Percent-encodes an item key for a path segment.
pub fn segment(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Imports the seed checklist and registers `n` services with it attached; with `decide`,
/// signs off or fails about a quarter of each review's items.
pub async fn populate(api: &Api, n: usize, decide: bool) -> anyhow::Result<Population> {
    let started = Instant::now();
    let checklist = api
        .created(
            api.client
                .post(api.url("/api/v1/checklists"))
                .header("content-type", "text/markdown; charset=utf-8")
                .body(SEED),
            "importing the seed checklist",
        )
        .await?;
    let services: Vec<(Service, usize)> = stream::iter(0..n)
        .map(|i| service(api, &checklist, i, decide))
        .buffered(PARALLEL)
        .try_collect()
        .await?;
    let decisions = services.iter().map(|(_, d)| d).sum();
    Ok(Population {
        checklist,
        services: services.into_iter().map(|(s, _)| s).collect(),
        decisions,
        took: started.elapsed(),
    })
}

async fn service(
    api: &Api,
    checklist: &str,
    i: usize,
    decide: bool,
) -> anyhow::Result<(Service, usize)> {
    let environment = ["production", "staging"][i % 2];
    let id = api
        .created(
            api.client.post(api.url("/api/v1/services")).json(&json!({
                "name": format!("bench-{i:05}"),
                "environment": environment,
                "owners": [format!("team-{}", i % 10)],
            })),
            "registering a service",
        )
        .await?;
    let review: Value = api
        .expect(
            api.client
                .post(api.url(&format!("/api/v1/services/{id}/reviews")))
                .json(&json!({"checklist_id": checklist})),
            StatusCode::CREATED,
            "attaching the checklist",
        )
        .await?
        .json()
        .await?;
    let rid = review["id"].as_str().context("review id")?.to_owned();
    let keys: Vec<String> = review["items"]
        .as_array()
        .context("review items")?
        .iter()
        .filter_map(|item| item["key"].as_str().map(str::to_owned))
        .collect();
    let mut decisions = 0;
    if decide {
        // Every fourth item, shifted per service so that services differ.
        for key in keys.iter().skip(i % 4).step_by(4) {
            let action = if decisions % 7 == 6 {
                "fail"
            } else {
                "sign_off"
            };
            decide_item(api, &rid, key, action).await?;
            decisions += 1;
        }
    }
    Ok((
        Service {
            id,
            review: rid,
            keys,
        },
        decisions,
    ))
}

/// A key of the `i`-th populated service's review that [`populate`] left pending.
pub fn undecided_key(service: &Service, i: usize) -> Option<&str> {
    // `populate` decides the items at positions i % 4, i % 4 + 4, ...: the next position is
    // never among them.
    service.keys.get((i % 4 + 1) % 4).map(String::as_str)
}

/// `n` times (at most once per service): a sign-off of a pending item, then one read of `url`,
/// timed: how long the first read after a write takes.
pub async fn reads_after_writes(
    api: &Api,
    services: &[Service],
    n: usize,
    url: &str,
) -> anyhow::Result<Vec<Duration>> {
    let mut took = Vec::with_capacity(n);
    for (i, svc) in services.iter().enumerate().take(n) {
        let key = undecided_key(svc, i).context("a review without items")?;
        decide_item(api, &svc.review, key, "sign_off").await?;
        let started = Instant::now();
        api.expect(api.client.get(url), StatusCode::OK, "a read after a write")
            .await?
            .bytes()
            .await?;
        took.push(started.elapsed());
    }
    Ok(took)
}

/// Records a decision on one item (`sign_off`, `fail`, `reset`, ...).
pub async fn decide_item(api: &Api, review: &str, key: &str, action: &str) -> anyhow::Result<()> {
    api.expect(
        api.client
            .post(api.url(&format!("/api/v1/reviews/{review}/items/{}", segment(key))))
            .json(&if action == "not_applicable" {
                json!({"action": action, "reason": "recorded by the benchmark"})
            } else {
                json!({"action": action, "comment": "recorded by the benchmark"})
            }),
        StatusCode::OK,
        "deciding an item",
    )
    .await?;
    Ok(())
}
