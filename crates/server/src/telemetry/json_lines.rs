//! The JSON log format: one object per event, one line each, as
//! `{"timestamp":"2026-12-04T18:15:41.189379Z","level":"INFO","message":"request served",
//! "request_id":"...","status":200,...,"target":"preflight::http"}`: the event's fields at the
//! top level in the order they were given, then its target. Spans are not written.
//!
//! The same shape as `tracing-subscriber`'s JSON formatter with `flatten_event(true)` (events
//! bridged from the `log` crate keep their `log.*` fields and take `log.target` as target;
//! 128-bit integers are written as strings, as there), which
//! the log pipeline (`deploy/alloy`) and docs/logging.md describe. Written here because that
//! formatter bridges `io::Write` to `fmt::Write` byte by byte (checking UTF-8 on every write)
//! and cost more than the rest of the access-log path together; this one writes the escaped
//! line straight into a reused buffer and hands it to the [`LineSink`] in one piece.

use std::cell::RefCell;
use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::line_sink::LineSink;

/// The layer writing JSON lines to a sink.
pub struct JsonLines {
    sink: LineSink,
}

impl JsonLines {
    pub fn new(sink: LineSink) -> Self {
        Self { sink }
    }
}

thread_local! {
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl<S: Subscriber> Layer<S> for JsonLines {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let write = |line: &mut Vec<u8>| {
            line.clear();
            format_event(event, line);
            self.sink.push(line);
            // A burst of huge lines should not pin the memory in every thread.
            if line.capacity() > 64 * 1024 {
                *line = Vec::new();
            }
        };
        // Re-entered (an event logged while formatting one): use a buffer of its own.
        // (Or logged while this thread's buffer is being destroyed.)
        let written = LINE.try_with(|buf| match buf.try_borrow_mut() {
            Ok(mut line) => write(&mut line),
            Err(_) => write(&mut Vec::new()),
        });
        if written.is_err() {
            write(&mut Vec::new());
        }
    }
}

/// The event as one JSON line, newline included.
fn format_event(event: &Event<'_>, out: &mut Vec<u8>) {
    let meta = event.metadata();
    out.extend_from_slice(b"{\"timestamp\":\"");
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    out.extend_from_slice(now.as_bytes());
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(meta.level().as_str().as_bytes());
    out.push(b'"');
    let mut fields = Fields {
        out,
        text: String::new(),
        log_target: None,
    };
    event.record(&mut fields);
    let Fields {
        out, log_target, ..
    } = fields;
    out.extend_from_slice(b",\"target\":");
    // Events bridged from the `log` crate carry their real target as a field.
    escaped(out, log_target.as_deref().unwrap_or(meta.target()));
    out.extend_from_slice(b"}\n");
}

/// Writes each field as `,"name":value`.
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    /// Scratch space for values given as `Debug`.
    text: String,
    log_target: Option<String>,
}

impl Fields<'_> {
    /// `,"name":` for a field to write (the `log` bridge's `log.*` fields included, as
    /// tracing-subscriber writes them).
    fn key(&mut self, field: &Field) -> Option<&mut Vec<u8>> {
        let name = field.name();
        self.out.push(b',');
        escaped(self.out, name);
        self.out.push(b':');
        Some(self.out)
    }
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.text.clear();
        let _ = write!(self.text, "{value:?}");
        if field.name() == "log.target" {
            self.log_target = Some(self.text.clone());
        }
        let text = std::mem::take(&mut self.text);
        if let Some(out) = self.key(field) {
            escaped(out, &text);
        }
        self.text = text;
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "log.target" {
            self.log_target = Some(value.to_owned());
        }
        if let Some(out) = self.key(field) {
            escaped(out, value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Some(out) = self.key(field) {
            let _ = write_display(out, value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if let Some(out) = self.key(field) {
            let _ = write_display(out, value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if let Some(out) = self.key(field) {
            out.extend_from_slice(if value { b"true" } else { b"false" });
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if let Some(out) = self.key(field) {
            // JSON has no NaN or infinity; serde_json writes them as null too.
            if value.is_finite() {
                let _ = serde_json::to_writer(&mut *out, &value);
            } else {
                out.extend_from_slice(b"null");
            }
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text.clear();
        let _ = write!(self.text, "{value}");
        let text = std::mem::take(&mut self.text);
        if let Some(out) = self.key(field) {
            escaped(out, &text);
        }
        self.text = text;
    }
}

fn write_display(out: &mut Vec<u8>, value: impl std::fmt::Display) -> std::io::Result<()> {
    use std::io::Write as _;
    write!(out, "{value}")
}

/// `s` as a JSON string, quotes included.
fn escaped(out: &mut Vec<u8>, s: &str) {
    // serde_json's string escaping, written straight into the buffer.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    /// The lines `f` logs through a [`JsonLines`] layer, parsed.
    fn lines_of(f: impl FnOnce()) -> Vec<serde_json::Value> {
        raw_lines_of(f)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// The lines `f` logs through a [`JsonLines`] layer, as written.
    fn raw_lines_of(f: impl FnOnce()) -> Vec<String> {
        #[derive(Clone, Default)]
        struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Capture::default();
        let (sink, guard) = LineSink::spawn("test-log", out.clone()).unwrap();
        let subscriber = tracing_subscriber::registry().with(JsonLines::new(sink));
        tracing::subscriber::with_default(subscriber, f);
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with('\n'), "whole lines: {text:?}");
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn an_event_is_one_object_with_its_fields_at_the_top_level_in_order() {
        let raw = raw_lines_of(|| {
            tracing::info!(target: "preflight::http", request_id = "r-1", method = "GET", status = 200_u16, latency_ms = 0.25, "request served");
        });
        assert_eq!(raw.len(), 1);
        let keys = [
            "timestamp",
            "level",
            "message",
            "request_id",
            "method",
            "status",
            "latency_ms",
            "target",
        ];
        let at: Vec<Option<usize>> = keys
            .iter()
            .map(|k| raw[0].find(&format!("\"{k}\":")))
            .collect();
        assert!(
            at.iter().all(Option::is_some) && at.windows(2).all(|w| w[0] < w[1]),
            "every key, in order: {}",
            raw[0]
        );
        let line: serde_json::Value = serde_json::from_str(&raw[0]).unwrap();
        assert_eq!(line.as_object().unwrap().len(), keys.len(), "{line}");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "request served");
        assert_eq!(line["status"], 200);
        assert_eq!(line["latency_ms"], 0.25);
        assert_eq!(line["target"], "preflight::http");
        let ts = line["timestamp"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z') && ts.len() == 27,
            "RFC 3339, UTC, microseconds: {ts}"
        );
    }

    #[test]
    fn values_are_escaped_and_typed() {
        let err = std::io::Error::other("disk \"full\"");
        let lines = lines_of(|| {
            tracing::error!(error = %err, detail = ?Some("a\nb"), ok = true, n = -3_i64, nan = f64::NAN, "failed: {}", "x\ty");
        });
        let line = &lines[0];
        assert_eq!(line["level"], "ERROR");
        assert_eq!(line["message"], "failed: x\ty");
        assert_eq!(line["error"], "disk \"full\"");
        assert_eq!(line["detail"], "Some(\"a\\nb\")");
        assert_eq!(line["ok"], true);
        assert_eq!(line["n"], -3);
        assert!(line["nan"].is_null());
        assert_eq!(line["target"], "preflight::telemetry::json_lines::tests");
    }

    #[test]
    fn an_error_value_is_its_message() {
        let err = std::io::Error::other("boom");
        let dyn_err: &(dyn std::error::Error + 'static) = &err;
        let lines = lines_of(|| tracing::warn!(error = dyn_err, "went wrong"));
        assert_eq!(lines[0]["error"], "boom");
        assert_eq!(lines[0]["level"], "WARN");
    }
}
