//! `loki_logs` and `grafana_dashboard` against fakes served by the test (no Loki or Grafana
//! binary here). The fakes answer with the shapes of the documented HTTP APIs and CHECK the
//! request the probe sent, so that a probe sending a wrong request cannot pass:
//!
//! - Loki: shapes of the Loki 3.x HTTP API reference ("Query logs within a range of time",
//!   `GET /loki/api/v1/query_range`, and "Query logs at a single point in time",
//!   `GET /loki/api/v1/query`): `{"status":"success","data":{"resultType":"streams",
//!   "result":[{"stream":{...},"values":[["<ns>","line"]]}],"stats":{...}}}`. Like Loki, the
//!   fake requires the tenant header `X-Scope-OrgID` (401 "no org id"), answers bad requests
//!   with 400 and a plain-text message, returns entries in `[start, end)`, newest first for
//!   `direction=backward`, and at most `limit` entries (≤ 5000, Loki's default
//!   `max_entries_limit_per_query`).
//! - Grafana: shapes of the Grafana 11 HTTP API reference ("Search API" `GET /api/search`,
//!   "Dashboard API" `GET /api/dashboards/uid/:uid`, 404 `{"message":"Dashboard not
//!   found"}`). Like Grafana, the search matches the query as a case-insensitive substring
//!   and returns folders too unless `type=dash-db`; a missing or wrong `Authorization` is 401.
//!
//! Every request the fakes judge wrong is recorded; the tests assert there was none.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{assert_outcome, run};
use preflight_probe::{Credential, Endpoint, Outcome, Report, Target};
use serde_json::{Value, json};
use url::Url;

const NS_PER_SEC: i64 = 1_000_000_000;

/// Query parameters: each name with every value it was given.
type Params = BTreeMap<String, Vec<String>>;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .expect("clock after 1970")
}

/// The query parameters, each name with every value it was given.
fn params(raw: Option<String>) -> Params {
    let mut found = Params::new();
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        found
            .entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    found
}

/// The single value of a parameter, or why the request is wrong.
fn one<'p>(params: &'p Params, name: &str) -> Result<&'p str, String> {
    match params.get(name).map(Vec::as_slice) {
        Some([value]) => Ok(value),
        Some(values) => Err(format!("{name} given {} times", values.len())),
        None => Err(format!("{name} is missing")),
    }
}

// ---------------------------------------------------------------------------------------
// Loki
// ---------------------------------------------------------------------------------------

const TENANT: &str = "tenant-a";

struct LokiStream {
    selector: &'static str,
    labels: Value,
    /// (timestamp in ns, line)
    entries: Vec<(i64, String)>,
}

struct FakeLoki {
    streams: Vec<LokiStream>,
    /// Every request: path and parameters.
    seen: Mutex<Vec<(String, Params)>>,
    /// What was wrong with the requests.
    problems: Mutex<Vec<String>>,
}

impl FakeLoki {
    fn new(now: i64) -> Self {
        let ago = |secs: i64| now - secs * NS_PER_SEC;
        let api = |level: &'static str, first: i64| LokiStream {
            selector: r#"{service="api"}"#,
            labels: json!({"service": "api", "level": level, "host": "web-1"}),
            // Six lines each, one every minute, within the last 12 minutes.
            entries: (0..6)
                .map(|i| {
                    (
                        ago(first + i * 120),
                        format!("level={level} msg=\"request {i}\""),
                    )
                })
                .collect(),
        };
        Self {
            streams: vec![
                api("info", 30),
                api("error", 90),
                // Logged two hours ago, nothing since.
                LokiStream {
                    selector: r#"{service="quiet"}"#,
                    labels: json!({"service": "quiet"}),
                    entries: (0..3)
                        .map(|i| (ago(7200 + i * 60), format!("old line {i}")))
                        .collect(),
                },
                // 2500 lines in the last few minutes: counted by Loki, never downloaded.
                LokiStream {
                    selector: r#"{service="chatty"}"#,
                    labels: json!({"service": "chatty"}),
                    entries: (0..2500)
                        .map(|i| (now - (i + 1) * 100_000_000, format!("tick {i}")))
                        .collect(),
                },
            ],
            seen: Mutex::new(Vec::new()),
            problems: Mutex::new(Vec::new()),
        }
    }

    fn problems(&self) -> Vec<String> {
        self.problems.lock().expect("lock").clone()
    }

    fn last_seen(&self) -> (String, Params) {
        self.seen
            .lock()
            .expect("lock")
            .last()
            .cloned()
            .expect("a request reached the fake")
    }

    /// Loki's own answer to a bad request: 400 with a plain-text message.
    fn bad_request(&self, problem: String) -> Response {
        self.problems.lock().expect("lock").push(problem.clone());
        (StatusCode::BAD_REQUEST, problem).into_response()
    }

    /// Loki's 401 when the tenant header is missing or wrong.
    fn refusal(&self, headers: &HeaderMap) -> Option<Response> {
        match headers.get("x-scope-orgid").and_then(|v| v.to_str().ok()) {
            Some(TENANT) => None,
            other => {
                self.problems
                    .lock()
                    .expect("lock")
                    .push(format!("X-Scope-OrgID was {other:?}"));
                Some((StatusCode::UNAUTHORIZED, "no org id\n").into_response())
            }
        }
    }

    /// Nanosecond timestamp parameter, within a minute of now.
    fn timestamp(params: &Params, name: &str) -> Result<i64, String> {
        let text = one(params, name)?;
        let ns: i64 = text
            .parse()
            .map_err(|_| format!("{name}={text} is not an integer of nanoseconds"))?;
        let drift = (now_ns() - ns).abs();
        if drift > 24 * 3600 * NS_PER_SEC * 31 {
            return Err(format!(
                "{name}={text} is not a nanosecond timestamp of this month"
            ));
        }
        Ok(ns)
    }

    fn stats() -> Value {
        json!({
            "summary": {
                "bytesProcessedPerSecond": 0, "linesProcessedPerSecond": 0,
                "totalBytesProcessed": 0, "totalLinesProcessed": 0,
                "execTime": 0.001, "queueTime": 0.0, "subqueries": 0,
                "totalEntriesReturned": 0, "splits": 1, "shards": 1
            },
            "querier": {"store": {"totalChunksRef": 0, "totalChunksDownloaded": 0}},
            "ingester": {"totalReached": 1, "totalChunksMatched": 0, "totalBatches": 0, "totalLinesSent": 0},
            "cache": {"chunk": {"entriesFound": 0, "entriesRequested": 0}}
        })
    }
}

async fn loki_query_range(
    State(loki): State<Arc<FakeLoki>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = params(raw);
    loki.seen
        .lock()
        .expect("lock")
        .push(("/loki/api/v1/query_range".into(), params.clone()));
    if let Some(refused) = loki.refusal(&headers) {
        return refused;
    }
    let checked = (|| -> Result<(String, i64, i64, usize), String> {
        let query = one(&params, "query")?;
        if !(query.starts_with('{') && query.ends_with('}')) {
            return Err(format!("parse error : {query} is not a stream selector"));
        }
        let start = FakeLoki::timestamp(&params, "start")?;
        let end = FakeLoki::timestamp(&params, "end")?;
        if start >= end {
            return Err("end timestamp must not be before or equal to start time".to_owned());
        }
        if end > now_ns() + 5 * NS_PER_SEC {
            return Err(format!("end={end} is in the future"));
        }
        let limit_text = one(&params, "limit")?;
        let limit: usize = limit_text
            .parse()
            .map_err(|_| format!("limit={limit_text} is not a number"))?;
        if !(1..=5000).contains(&limit) {
            return Err(format!(
                "max entries limit per query exceeded, limit > max_entries_limit ({limit} > 5000)"
            ));
        }
        let direction = one(&params, "direction")?;
        if direction != "backward" {
            return Err(format!(
                "direction={direction}: the probe must ask for the newest lines"
            ));
        }
        Ok((query.to_owned(), start, end, limit))
    })();
    let (query, start, end, limit) = match checked {
        Ok(checked) => checked,
        Err(problem) => return loki.bad_request(problem),
    };
    // Entries in [start, end), newest first, at most `limit` over all streams.
    let mut entries: Vec<(i64, usize, &str)> = loki
        .streams
        .iter()
        .enumerate()
        .filter(|(_, s)| s.selector == query)
        .flat_map(|(i, s)| {
            s.entries
                .iter()
                .map(move |(ts, line)| (*ts, i, line.as_str()))
        })
        .filter(|(ts, _, _)| (start..end).contains(ts))
        .collect();
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    entries.truncate(limit);
    let mut result: Vec<Value> = Vec::new();
    for (index, stream) in loki.streams.iter().enumerate() {
        let values: Vec<Value> = entries
            .iter()
            .filter(|(_, i, _)| *i == index)
            .map(|(ts, _, line)| json!([ts.to_string(), line]))
            .collect();
        if !values.is_empty() {
            result.push(json!({"stream": stream.labels, "values": values}));
        }
    }
    axum::Json(json!({
        "status": "success",
        "data": {"resultType": "streams", "result": result, "stats": FakeLoki::stats()}
    }))
    .into_response()
}

/// `sum(count_over_time(SELECTOR[RANGE]))` at `time`, the only metric query the probe sends.
async fn loki_query(
    State(loki): State<Arc<FakeLoki>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = params(raw);
    loki.seen
        .lock()
        .expect("lock")
        .push(("/loki/api/v1/query".into(), params.clone()));
    if let Some(refused) = loki.refusal(&headers) {
        return refused;
    }
    let checked = (|| -> Result<(String, i64, i64), String> {
        let query = one(&params, "query")?;
        let inner = query
            .strip_prefix("sum(count_over_time(")
            .and_then(|q| q.strip_suffix("]))"))
            .ok_or_else(|| format!("unexpected metric query {query}"))?;
        let (selector, range) = inner
            .rsplit_once('[')
            .ok_or_else(|| format!("no [range] in {query}"))?;
        let parsed = if let Some(ms) = range.strip_suffix("ms") {
            ms.parse::<i64>().map(|ms| ms * 1_000_000)
        } else if let Some(s) = range.strip_suffix('s') {
            s.parse::<i64>().map(|s| s * NS_PER_SEC)
        } else {
            return Err(format!("parse error : unexpected range {range}"));
        };
        let range_ns = parsed.map_err(|_| format!("parse error : bad range {range}"))?;
        let time = FakeLoki::timestamp(&params, "time")?;
        Ok((selector.to_owned(), range_ns, time))
    })();
    let (selector, range_ns, time) = match checked {
        Ok(checked) => checked,
        Err(problem) => return loki.bad_request(problem),
    };
    let lines = loki
        .streams
        .iter()
        .filter(|s| s.selector == selector)
        .flat_map(|s| &s.entries)
        .filter(|(ts, _)| *ts > time - range_ns && *ts <= time)
        .count();
    let result = if lines == 0 {
        json!([])
    } else {
        json!([{"metric": {}, "value": [time as f64 / 1e9, lines.to_string()]}])
    };
    axum::Json(json!({
        "status": "success",
        "data": {"resultType": "vector", "result": result, "stats": FakeLoki::stats()}
    }))
    .into_response()
}

async fn fake_loki() -> (Arc<FakeLoki>, Url) {
    let loki = Arc::new(FakeLoki::new(now_ns()));
    let url = common::serve(
        Router::new()
            .route("/loki/api/v1/query_range", get(loki_query_range))
            .route("/loki/api/v1/query", get(loki_query))
            .with_state(loki.clone()),
    )
    .await;
    (loki, url)
}

fn loki_target(loki: &Url, tenant: bool) -> Target {
    let mut target = Target::new(Url::parse("http://127.0.0.1:9/").expect("url"));
    let mut endpoint = Endpoint::new(loki.clone());
    if tenant {
        endpoint.credentials = vec![Credential::header("X-Scope-OrgID", TENANT)];
    }
    target.loki = Some(endpoint);
    target
}

#[tokio::test]
async fn loki_has_recent_lines_for_the_selector() {
    let (loki, url) = fake_loki().await;
    let target = loki_target(&url, true);

    let report = run(
        r#"loki_logs selector='{service="api"}' min_lines=5"#,
        &target,
    )
    .await;
    assert_outcome(&report, Outcome::Passed);
    assert!(
        report
            .reason
            .contains(r#"at least 5 log lines for {service="api"} in the last 15m"#),
        "{}",
        report.reason
    );
    assert_eq!(report.facts.get("lines").map(String::as_str), Some("5"));
    assert!(
        report.facts.contains_key("newest_line"),
        "{:?}",
        report.facts
    );
    // The request: the selector, a 15-minute window in nanoseconds, limit = min_lines.
    let (path, params) = loki.last_seen();
    assert_eq!(path, "/loki/api/v1/query_range");
    assert_eq!(params["query"], vec![r#"{service="api"}"#.to_owned()]);
    assert_eq!(params["limit"], vec!["5".to_owned()]);
    assert_eq!(params["direction"], vec!["backward".to_owned()]);
    let start: i64 = params["start"][0].parse().expect("start");
    let end: i64 = params["end"][0].parse().expect("end");
    assert_eq!(end - start, 15 * 60 * NS_PER_SEC);
    assert!(loki.problems().is_empty(), "{:?}", loki.problems());

    // The selector defaults to the target's.
    let mut with_selector = target.clone();
    with_selector.log_selector = Some(r#"{service="api"}"#.into());
    let report = run("loki_logs", &with_selector).await;
    assert_outcome(&report, Outcome::Passed);
    assert_eq!(loki.last_seen().1["limit"], vec!["1".to_owned()]);

    // Old lines count once the window reaches them.
    let report = run(
        r#"loki_logs selector='{service="quiet"}' window=3h min_lines=3"#,
        &target,
    )
    .await;
    assert_outcome(&report, Outcome::Passed);

    // Above the download cap, Loki counts the lines: one sample, not 2500 lines.
    let report = run(
        r#"loki_logs selector='{service="chatty"}' window=1h min_lines=2000"#,
        &target,
    )
    .await;
    assert_outcome(&report, Outcome::Passed);
    assert!(
        report.reason.contains("2500 log lines"),
        "{}",
        report.reason
    );
    let (path, params) = loki.last_seen();
    assert_eq!(path, "/loki/api/v1/query");
    assert_eq!(
        params["query"],
        vec![r#"sum(count_over_time({service="chatty"}[3600s]))"#.to_owned()]
    );
    assert!(
        report.requests[0].body_bytes < 2000,
        "{}",
        report.requests[0].body_bytes
    );
    assert!(loki.problems().is_empty(), "{:?}", loki.problems());
}

#[tokio::test]
async fn loki_without_enough_recent_lines_fails() {
    let (loki, url) = fake_loki().await;
    let target = loki_target(&url, true);

    let report = run(r#"loki_logs selector='{service="quiet"}'"#, &target).await;
    assert_outcome(&report, Outcome::Failed);
    assert_eq!(
        report.reason,
        r#"Loki has no log line for {service="quiet"} in the last 15m"#
    );

    let report = run(
        r#"loki_logs selector='{service="api"}' min_lines=50"#,
        &target,
    )
    .await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report.reason.contains("only 12 log lines")
            && report.reason.contains("fewer than the 50 required"),
        "{}",
        report.reason
    );
    assert_eq!(report.facts.get("streams").map(String::as_str), Some("2"));

    let report = run(
        r#"loki_logs selector='{service="api"}' min_lines=5000"#,
        &target,
    )
    .await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report.reason.contains("only 12 log lines"),
        "{}",
        report.reason
    );
    assert!(loki.problems().is_empty(), "{:?}", loki.problems());

    // Loki's 400 (plain text) is an error quoting it.
    let mut bad = target.clone();
    bad.log_selector = Some("service=api".into());
    let report = run("loki_logs", &bad).await;
    assert_outcome(&report, Outcome::Error);
    assert!(
        report
            .reason
            .contains("Loki answered HTTP 400: parse error"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn loki_needs_a_selector_and_the_tenant() {
    let (loki, url) = fake_loki().await;
    let report = run("loki_logs", &loki_target(&url, true)).await;
    assert_outcome(&report, Outcome::Error);
    assert!(
        report.reason.starts_with("no log selector"),
        "{}",
        report.reason
    );
    assert!(report.requests.is_empty());

    let report = run(
        r#"loki_logs selector='{service="api"}'"#,
        &loki_target(&url, false),
    )
    .await;
    assert_outcome(&report, Outcome::Error);
    assert!(
        report
            .reason
            .contains("Loki refused the credentials (HTTP 401)"),
        "{}",
        report.reason
    );
    assert_eq!(loki.problems(), vec!["X-Scope-OrgID was None".to_owned()]);
}

// ---------------------------------------------------------------------------------------
// Grafana
// ---------------------------------------------------------------------------------------

const TOKEN: &str = "glsa_fakeServiceAccountToken0123456789_abcdef01";

struct Dash {
    id: u64,
    uid: &'static str,
    title: &'static str,
    tags: &'static [&'static str],
}

/// Every dashboard lives in the folder "Services" (id 7, uid `fold-svc`).
const FOLDER: (u64, &str, &str) = (7, "fold-svc", "Services");

struct FakeGrafana {
    dashboards: Vec<Dash>,
    /// The uids asked for by `/api/dashboards/uid/{uid}`, decoded.
    uids: Mutex<Vec<String>>,
    problems: Mutex<Vec<String>>,
}

impl FakeGrafana {
    fn new() -> Self {
        Self {
            dashboards: vec![
                Dash {
                    id: 11,
                    uid: "svc-overview",
                    title: "Service overview",
                    tags: &["prod"],
                },
                Dash {
                    id: 12,
                    uid: "svc-overview-old",
                    title: "Service overview (old)",
                    tags: &[],
                },
                Dash {
                    id: 13,
                    uid: "billing",
                    title: "Billing",
                    tags: &["team-billing"],
                },
            ],
            uids: Mutex::new(Vec::new()),
            problems: Mutex::new(Vec::new()),
        }
    }

    fn problems(&self) -> Vec<String> {
        self.problems.lock().expect("lock").clone()
    }

    fn problem(&self, text: String) {
        self.problems.lock().expect("lock").push(text);
    }

    /// Grafana's 401 for a missing or wrong token.
    fn refusal(&self, headers: &HeaderMap) -> Option<Response> {
        let presented = headers.get("authorization").and_then(|v| v.to_str().ok());
        if presented == Some(format!("Bearer {TOKEN}").as_str()) {
            return None;
        }
        self.problem(format!(
            "Authorization was {}",
            if presented.is_some() {
                "wrong"
            } else {
                "missing"
            }
        ));
        let message = if presented.is_some() {
            "Invalid API key"
        } else {
            "Unauthorized"
        };
        Some(
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"message": message})),
            )
                .into_response(),
        )
    }

    fn slug(title: &str) -> String {
        let slug: String = title
            .to_lowercase()
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect();
        slug.split('-')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("-")
    }

    fn hit(dash: &Dash) -> Value {
        let slug = Self::slug(dash.title);
        json!({
            "id": dash.id, "uid": dash.uid, "orgId": 1, "title": dash.title,
            "uri": format!("db/{slug}"), "url": format!("/d/{}/{slug}", dash.uid), "slug": "",
            "type": "dash-db", "tags": dash.tags, "isStarred": false,
            "folderId": FOLDER.0, "folderUid": FOLDER.1, "folderTitle": FOLDER.2,
            "folderUrl": format!("/dashboards/f/{}/services", FOLDER.1), "sortMeta": 0
        })
    }
}

async fn grafana_search(
    State(grafana): State<Arc<FakeGrafana>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = grafana.refusal(&headers) {
        return refused;
    }
    let params = params(raw);
    let only_dashboards = match one(&params, "type") {
        Ok("dash-db") => true,
        other => {
            grafana.problem(format!("type should be dash-db: {other:?}"));
            false
        }
    };
    let query = match one(&params, "query") {
        Ok(query) if !query.is_empty() => query.to_lowercase(),
        other => {
            grafana.problem(format!("query should be the title: {other:?}"));
            String::new()
        }
    };
    if let Some(limit) = params.get("limit")
        && !limit
            .iter()
            .all(|l| l.parse::<u32>().is_ok_and(|n| (1..=5000).contains(&n)))
    {
        grafana.problem(format!("limit {limit:?} is not 1..=5000"));
    }
    let mut hits: Vec<Value> = Vec::new();
    // Without type=dash-db Grafana returns matching folders too.
    if !only_dashboards && FOLDER.2.to_lowercase().contains(&query) {
        hits.push(json!({
            "id": FOLDER.0, "uid": FOLDER.1, "title": FOLDER.2,
            "url": format!("/dashboards/f/{}/services", FOLDER.1), "type": "dash-folder",
            "tags": [], "isStarred": false, "uri": "db/services", "slug": ""
        }));
    }
    let mut dashboards: Vec<&Dash> = grafana
        .dashboards
        .iter()
        .filter(|d| d.title.to_lowercase().contains(&query))
        .collect();
    dashboards.sort_by_key(|d| d.title.to_lowercase());
    hits.extend(dashboards.into_iter().map(FakeGrafana::hit));
    axum::Json(Value::Array(hits)).into_response()
}

async fn grafana_dashboard(
    State(grafana): State<Arc<FakeGrafana>>,
    headers: HeaderMap,
    Path(uid): Path<String>,
) -> Response {
    if let Some(refused) = grafana.refusal(&headers) {
        return refused;
    }
    grafana.uids.lock().expect("lock").push(uid.clone());
    let Some(dash) = grafana.dashboards.iter().find(|d| d.uid == uid) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Dashboard not found"})),
        )
            .into_response();
    };
    let slug = FakeGrafana::slug(dash.title);
    axum::Json(json!({
        "meta": {
            "type": "db", "canSave": true, "canEdit": true, "canAdmin": false, "canStar": true,
            "canDelete": true, "slug": slug, "url": format!("/d/{}/{slug}", dash.uid),
            "expires": "0001-01-01T00:00:00Z", "created": "2025-01-10T09:00:00Z",
            "updated": "2025-02-01T10:30:00Z", "updatedBy": "admin", "createdBy": "admin",
            "version": 3, "hasAcl": false, "isFolder": false, "folderId": FOLDER.0,
            "folderUid": FOLDER.1, "folderTitle": FOLDER.2,
            "folderUrl": format!("/dashboards/f/{}/services", FOLDER.1), "provisioned": true,
            "provisionedExternalId": format!("{}.json", dash.uid)
        },
        "dashboard": {
            "id": dash.id, "uid": dash.uid, "title": dash.title, "tags": dash.tags,
            "timezone": "browser", "schemaVersion": 39, "version": 3, "editable": true,
            "panels": [], "time": {"from": "now-6h", "to": "now"}
        }
    }))
    .into_response()
}

async fn fake_grafana() -> (Arc<FakeGrafana>, Url) {
    let grafana = Arc::new(FakeGrafana::new());
    let url = common::serve(
        Router::new()
            .route("/api/search", get(grafana_search))
            .route("/api/dashboards/uid/{uid}", get(grafana_dashboard))
            .with_state(grafana.clone()),
    )
    .await;
    (grafana, url)
}

fn grafana_target(grafana: &Url, token: Option<&str>) -> Target {
    let mut target = Target::new(Url::parse("http://127.0.0.1:9/").expect("url"));
    let mut endpoint = Endpoint::new(grafana.clone());
    if let Some(token) = token {
        endpoint.credentials = vec![Credential::header(
            "Authorization",
            format!("Bearer {token}"),
        )];
    }
    target.grafana = Some(endpoint);
    target
}

fn json_text(report: &Report) -> String {
    serde_json::to_string(report).expect("report serialises")
}

#[tokio::test]
async fn grafana_has_the_dashboard_by_exact_title_or_uid() {
    let (grafana, url) = fake_grafana().await;
    let target = grafana_target(&url, Some(TOKEN));

    let report = run(r#"grafana_dashboard title="Service overview""#, &target).await;
    assert_outcome(&report, Outcome::Passed);
    assert!(
        report.reason.contains("uid \"svc-overview\""),
        "{}",
        report.reason
    );
    assert!(
        report.reason.contains("folder \"Services\""),
        "{}",
        report.reason
    );
    assert_eq!(
        report.facts.get("search_results").map(String::as_str),
        Some("2")
    );
    assert!(
        report.requests[0].url.contains("type=dash-db"),
        "{}",
        report.requests[0].url
    );
    assert!(
        report.requests[0].url.contains("query=Service+overview"),
        "{}",
        report.requests[0].url
    );

    let report = run("grafana_dashboard uid=svc-overview", &target).await;
    assert_outcome(&report, Outcome::Passed);
    assert!(
        report.reason.contains("\"Service overview\""),
        "{}",
        report.reason
    );
    assert_eq!(
        report.facts.get("dashboard_url").map(String::as_str),
        Some("/d/svc-overview/service-overview")
    );

    let report = run(r#"grafana_dashboard uid=billing title=Billing"#, &target).await;
    assert_outcome(&report, Outcome::Passed);

    // Neither title nor uid: a dashboard whose title contains the service's name, any case.
    let mut named = target.clone();
    named.name = Some("billing".into());
    let report = run("grafana_dashboard", &named).await;
    assert_outcome(&report, Outcome::Passed);
    assert!(
        report
            .reason
            .contains(r#"1 dashboard whose title contains the service name "billing": "Billing""#),
        "{}",
        report.reason
    );
    assert!(
        report.requests[0].url.contains("query=billing"),
        "{}",
        report.requests[0].url
    );
    assert!(grafana.problems().is_empty(), "{:?}", grafana.problems());
}

#[tokio::test]
async fn grafana_without_the_dashboard_fails_with_near_matches() {
    let (grafana, url) = fake_grafana().await;
    let target = grafana_target(&url, Some(TOKEN));

    // Grafana's search is case-insensitive; the check is not.
    let report = run(r#"grafana_dashboard title="service Overview""#, &target).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report
            .reason
            .contains(r#"near matches: "Service overview", "Service overview (old)""#),
        "{}",
        report.reason
    );

    let report = run(r#"grafana_dashboard title="Latency SLOs""#, &target).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report.reason.contains("no dashboard title contains it"),
        "{}",
        report.reason
    );

    let report = run("grafana_dashboard uid=nope", &target).await;
    assert_outcome(&report, Outcome::Failed);
    assert_eq!(report.reason, "Grafana has no dashboard with uid \"nope\"");

    let report = run(
        r#"grafana_dashboard uid=billing title="Billing v2""#,
        &target,
    )
    .await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report
            .reason
            .contains("is titled \"Billing\", not \"Billing v2\""),
        "{}",
        report.reason
    );

    let mut named = target.clone();
    named.name = Some("payments".into());
    let report = run("grafana_dashboard", &named).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report.reason.contains("service name \"payments\""),
        "{}",
        report.reason
    );
    let report = run("grafana_dashboard", &target).await;
    assert_outcome(&report, Outcome::Error);
    assert!(report.requests.is_empty());

    // The uid is one path segment, encoded: Grafana receives it intact.
    let report = run(r#"grafana_dashboard uid="a/b c""#, &target).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        grafana
            .uids
            .lock()
            .expect("lock")
            .contains(&"a/b c".to_owned())
    );
    assert!(grafana.problems().is_empty(), "{:?}", grafana.problems());
}

#[tokio::test]
async fn grafana_credentials_are_sent_and_never_shown() {
    let (grafana, url) = fake_grafana().await;

    let report = run(
        "grafana_dashboard uid=svc-overview",
        &grafana_target(&url, Some(TOKEN)),
    )
    .await;
    assert_outcome(&report, Outcome::Passed);
    assert!(grafana.problems().is_empty(), "{:?}", grafana.problems());
    assert!(!json_text(&report).contains(TOKEN));

    let wrong = "glsa_wrongToken_0000000000000000000000_ffffffff";
    let report = run(
        r#"grafana_dashboard title="Service overview""#,
        &grafana_target(&url, Some(wrong)),
    )
    .await;
    assert_outcome(&report, Outcome::Error);
    assert_eq!(report.reason, "Grafana refused the credentials (HTTP 401)");
    let text = json_text(&report);
    assert!(!text.contains(wrong) && !text.contains(TOKEN), "{text}");

    let report = run(
        "grafana_dashboard uid=svc-overview",
        &grafana_target(&url, None),
    )
    .await;
    assert_outcome(&report, Outcome::Error);
    assert!(
        report.reason.contains("none is configured"),
        "{}",
        report.reason
    );
    assert_eq!(
        grafana.problems(),
        vec!["Authorization was wrong", "Authorization was missing"]
    );
}
