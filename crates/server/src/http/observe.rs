//! Per-request metrics (count, latency histogram per route template, method and status) and
//! one log line per request. Never logs headers or bodies: they may carry secrets.
//!
//! The metric handles of each (route, method, status) are looked up once and kept: building
//! a labelled key and finding it in the recorder on every request showed in the profile.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use axum::http::Method;
use metrics::{Counter, Gauge, Histogram};

/// Route label of a request no route matched (keeps label cardinality bounded).
pub const UNMATCHED: &str = "unmatched";

/// The handles of one label set.
#[derive(Clone)]
struct Series {
    method: &'static str,
    status: u16,
    count: Counter,
    duration: Histogram,
}

/// The request metrics' handles, shared by every route of one router.
#[derive(Default)]
pub struct RequestMetrics {
    in_flight: OnceLock<Gauge>,
    // Route templates are few and fixed; each holds the few (method, status) pairs it answered.
    routes: RwLock<HashMap<Arc<str>, Vec<Series>>>,
}

/// Decrements the in-flight gauge when the request ends, answered or cancelled.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

impl RequestMetrics {
    /// Counts a request in flight until the returned guard is dropped.
    pub fn start(&self) -> InFlight {
        let gauge = self
            .in_flight
            .get_or_init(|| metrics::gauge!("preflight_http_requests_in_flight"))
            .clone();
        gauge.increment(1.0);
        InFlight(gauge)
    }

    /// Counts a served request and records its latency. Methods other than the standard
    /// ones count as `OTHER`: hyper accepts any token as a method, and each would otherwise
    /// be a series of its own.
    pub fn record(&self, route: &str, method: &Method, status: u16, elapsed: Duration) {
        let method = method_label(method);
        let series = self.series(route, method, status);
        series.count.increment(1);
        series.duration.record(elapsed.as_secs_f64());
    }

    fn series(&self, route: &str, method: &'static str, status: u16) -> Series {
        let matches = |s: &&Series| s.status == status && s.method == method;
        if let Ok(routes) = self.routes.read()
            && let Some(found) = routes.get(route).and_then(|v| v.iter().find(matches))
        {
            return found.clone();
        }
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ];
        let series = Series {
            method,
            status,
            count: metrics::counter!("preflight_http_requests_total", &labels),
            duration: metrics::histogram!("preflight_http_request_duration_seconds", &labels),
        };
        // A poisoned lock only loses the cached handle: the next request looks it up again.
        if let Ok(mut routes) = self.routes.write() {
            let list = routes.entry(Arc::from(route)).or_default();
            if !list.iter().any(|s| matches(&s)) {
                list.push(series.clone());
            }
        }
        series
    }
}

/// The `method` label: the standard methods by name, any other token as `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// The access-log line of a request.
pub fn log(request_id: &str, method: &Method, route: &str, status: u16, elapsed: Duration) {
    let latency_ms = (elapsed.as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
    let method = method.as_str();
    if status >= 500 {
        tracing::error!(target: "preflight::http", request_id, method, route, status, latency_ms, "request failed");
    } else {
        tracing::info!(target: "preflight::http", request_id, method, route, status, latency_ms, "request served");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_series_per_route_method_and_status() {
        let m = RequestMetrics::default();
        m.record("/a", &Method::GET, 200, Duration::from_millis(1));
        m.record("/a", &Method::GET, 200, Duration::from_millis(1));
        m.record("/a", &Method::POST, 200, Duration::from_millis(1));
        m.record("/a", &Method::GET, 404, Duration::from_millis(1));
        m.record("/b", &Method::GET, 200, Duration::from_millis(1));
        let made_up = Method::from_bytes(b"MADEUP").unwrap();
        m.record("/a", &made_up, 405, Duration::from_millis(1));
        m.record(
            "/a",
            &Method::from_bytes(b"OTHERONE").unwrap(),
            405,
            Duration::from_millis(1),
        );
        let routes = m.routes.read().unwrap();
        assert_eq!(routes["/a"].len(), 4, "made-up methods share one series");
        assert_eq!(routes["/b"].len(), 1);
    }
}
