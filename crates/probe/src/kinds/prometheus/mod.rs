//! `prometheus_target`, `prometheus_rules`, `promql`: ask the Prometheus server of the target
//! (its `prometheus` endpoint) through the HTTP API, one request each.
//!
//! - `prometheus_target`: `GET /api/v1/targets?state=active`. The service's targets are the
//!   active targets whose `labels.job` is the check's `job` (else the target's job); when
//!   neither is given, those whose `scrapeUrl` has the base URL's host and port (names are
//!   compared as written: `localhost` is not `127.0.0.1`). Passes when at least one matches
//!   and every match has health `up`; fails naming each other target's URL, health and
//!   `lastError`, or "no active target ..." with the jobs seen (bounded) when none matches.
//! - `prometheus_rules`: `GET /api/v1/rules?type=alert`. Every name in `alerts` must be a
//!   loaded alerting rule (the missing ones are named). The service's rules are the alerting
//!   rules that mention the target's job: a label value equal to it, or the job as a whole
//!   word of the expression (delimited by characters other than letters and digits, so `api`
//!   is found in `job="api"` and `api_requests_total`, not in `rapid`); without a job, every
//!   alerting rule. At least `min_rules` are needed. Counts, states (firing, pending,
//!   inactive) and evaluation errors are facts.
//! - `promql`: `GET /api/v1/query?query=...` (an instant query at the server's now). An
//!   answer with status other than `success` is an `error` quoting Prometheus's message.
//!   Result types `vector` and `scalar` are judged (`matrix` and `string` are an `error`: the
//!   query needs to return instant samples); no sample fails ("the query returned no
//!   sample"); with `condition`, every sample must meet it, else the check fails naming the
//!   first offending series and its value. NaN never meets a condition (not even `!=`).

mod promql;

use std::collections::{BTreeMap, BTreeSet};

use preflight_domain::{PrometheusRulesCheck, PrometheusTargetCheck, PromqlCheck};
use serde::Deserialize;
use url::Url;

use super::Verdict;
use super::monitoring::{
    LISTED, Step, api_url, bounded_list, count, envelope_data, finish, get, quoted,
};
use crate::error::ProbeError;
use crate::probe::{Monitor, Probe};
use crate::target::normalise_host;

const PROMETHEUS: Monitor = Monitor::Prometheus;

/// Most targets described one by one in a failure sentence.
const DESCRIBED: usize = 3;

#[derive(Deserialize)]
struct Targets {
    #[serde(rename = "activeTargets", default)]
    active: Vec<ActiveTarget>,
}

#[derive(Deserialize)]
struct ActiveTarget {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(rename = "scrapeUrl", default)]
    scrape_url: String,
    #[serde(default)]
    health: String,
    #[serde(rename = "lastError", default)]
    last_error: String,
}

/// `prometheus_target`.
pub(crate) async fn target(
    spec: &PrometheusTargetCheck,
    probe: &Probe<'_>,
) -> Result<Verdict, ProbeError> {
    finish(check_target(spec, probe).await)
}

async fn check_target(spec: &PrometheusTargetCheck, probe: &Probe<'_>) -> Step<Verdict> {
    let job = non_empty(spec.job.as_deref()).or_else(|| non_empty(probe.target().job.as_deref()));
    let url = api_url(probe, PROMETHEUS, "/api/v1/targets", &[("state", "active")])?;
    let response = get(probe, PROMETHEUS, url).await?;
    let targets: Targets =
        envelope_data(probe, PROMETHEUS, &response, "Prometheus targets answer")?;

    let (what, matching): (String, Vec<&ActiveTarget>) = match job {
        Some(job) => {
            probe.fact("job", job);
            let matching = targets
                .active
                .iter()
                .filter(|t| t.labels.get("job").map(String::as_str) == Some(job))
                .collect();
            (format!("job \"{job}\""), matching)
        }
        None => {
            let wanted = host_port(&probe.target().base_url);
            let shown = wanted
                .as_ref()
                .map_or_else(String::new, |(h, p)| format!("{h}:{p}"));
            probe.fact("scrape_address", shown.clone());
            let matching = targets
                .active
                .iter()
                .filter(|t| {
                    wanted.is_some()
                        && Url::parse(&t.scrape_url).ok().as_ref().and_then(host_port) == wanted
                })
                .collect();
            (shown, matching)
        }
    };
    probe.fact("active_targets", targets.active.len().to_string());
    probe.fact("matching_targets", matching.len().to_string());

    if matching.is_empty() {
        let jobs: BTreeSet<&str> = targets
            .active
            .iter()
            .filter_map(|t| t.labels.get("job").map(String::as_str))
            .collect();
        let jobs: Vec<&str> = jobs.into_iter().collect();
        let seen = if jobs.is_empty() {
            "no job".to_owned()
        } else {
            format!("jobs seen: {}", bounded_list(&jobs, LISTED, ", "))
        };
        return Ok(Verdict::fail(format!(
            "no active target for {what} in Prometheus ({}; {seen})",
            count(targets.active.len(), "active target", "active targets")
        )));
    }

    let health: Vec<String> = matching
        .iter()
        .map(|t| format!("{} {}", t.scrape_url, t.health))
        .collect();
    probe.fact("health", bounded_list(&health, LISTED, ", "));
    if let Some(last_error) = matching
        .iter()
        .map(|t| t.last_error.as_str())
        .find(|e| !e.is_empty())
    {
        probe.fact("last_error", last_error);
    }
    let not_up: Vec<&&ActiveTarget> = matching.iter().filter(|t| t.health != "up").collect();
    if not_up.is_empty() {
        let urls: Vec<&str> = matching.iter().map(|t| t.scrape_url.as_str()).collect();
        return Ok(Verdict::pass(format!(
            "Prometheus scrapes {what}: {} up ({})",
            count(matching.len(), "target", "targets"),
            bounded_list(&urls, DESCRIBED, ", ")
        )));
    }
    let described: Vec<String> = not_up
        .iter()
        .map(|t| {
            let health = if t.health.is_empty() {
                "unknown"
            } else {
                t.health.as_str()
            };
            let why = if t.last_error.is_empty() {
                String::new()
            } else {
                format!(" ({})", t.last_error)
            };
            format!("{} is {health}{why}", t.scrape_url)
        })
        .collect();
    let how_many = if matching.len() == 1 {
        "its target is".to_owned()
    } else {
        format!("{} of {} targets are", not_up.len(), matching.len())
    };
    Ok(Verdict::fail(format!(
        "Prometheus scrapes {what} but {how_many} not up: {}",
        bounded_list(&described, DESCRIBED, "; ")
    )))
}

#[derive(Deserialize)]
struct RuleGroups {
    #[serde(default)]
    groups: Vec<RuleGroup>,
}

#[derive(Deserialize)]
struct RuleGroup {
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    #[serde(default)]
    name: String,
    #[serde(default)]
    query: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    state: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    health: String,
    #[serde(rename = "lastError", default)]
    last_error: String,
}

/// `prometheus_rules`.
pub(crate) async fn rules(
    spec: &PrometheusRulesCheck,
    probe: &Probe<'_>,
) -> Result<Verdict, ProbeError> {
    finish(check_rules(spec, probe).await)
}

async fn check_rules(spec: &PrometheusRulesCheck, probe: &Probe<'_>) -> Step<Verdict> {
    let url = api_url(probe, PROMETHEUS, "/api/v1/rules", &[("type", "alert")])?;
    let response = get(probe, PROMETHEUS, url).await?;
    let groups: RuleGroups =
        envelope_data(probe, PROMETHEUS, &response, "Prometheus rules answer")?;
    let alerting: Vec<&Rule> = groups
        .groups
        .iter()
        .flat_map(|g| &g.rules)
        .filter(|r| r.kind == "alerting")
        .collect();
    let job = non_empty(probe.target().job.as_deref());
    let ours: Vec<&Rule> = match job {
        Some(job) => alerting
            .iter()
            .copied()
            .filter(|r| mentions_job(r, job))
            .collect(),
        None => alerting.clone(),
    };
    let missing: Vec<&str> = spec
        .alerts
        .iter()
        .map(String::as_str)
        .filter(|name| !alerting.iter().any(|r| r.name == *name))
        .collect();

    let in_state = |state: &str| ours.iter().filter(|r| r.state == state).count();
    let firing: Vec<&str> = ours
        .iter()
        .filter(|r| r.state == "firing")
        .map(|r| r.name.as_str())
        .collect();
    probe.fact("alerting_rules", alerting.len().to_string());
    probe.fact("service_rules", ours.len().to_string());
    probe.fact("firing", firing.len().to_string());
    probe.fact("pending", in_state("pending").to_string());
    probe.fact("inactive", in_state("inactive").to_string());
    if !firing.is_empty() {
        probe.fact("firing_alerts", bounded_list(&firing, LISTED, ", "));
    }
    if !spec.alerts.is_empty() {
        let states: Vec<String> = spec
            .alerts
            .iter()
            .map(|name| {
                let state = alerting
                    .iter()
                    .find(|r| r.name == *name)
                    .map_or("not loaded", |r| r.state.as_str());
                format!("{name}: {state}")
            })
            .collect();
        probe.fact("alert_states", bounded_list(&states, LISTED, ", "));
    }
    let broken: Vec<String> = ours
        .iter()
        .filter(|r| !r.health.is_empty() && r.health != "ok")
        .map(|r| format!("{}: {}", r.name, r.last_error))
        .collect();
    if !broken.is_empty() {
        probe.fact("rule_errors", bounded_list(&broken, DESCRIBED, "; "));
    }

    let scope = job.map_or_else(String::new, |job| format!(" for job \"{job}\""));
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("alerting rules not loaded: {}", quoted(&missing)));
    }
    let needed = usize::try_from(spec.min_rules).unwrap_or(usize::MAX);
    if ours.len() < needed {
        let in_all = if job.is_some() {
            format!(" ({} loaded in all)", alerting.len())
        } else {
            String::new()
        };
        problems.push(format!(
            "{}{scope} loaded, at least {needed} needed{in_all}",
            count(ours.len(), "alerting rule", "alerting rules"),
        ));
    }
    let including = if spec.alerts.is_empty() {
        String::new()
    } else {
        format!(", including {}", quoted(&spec.alerts))
    };
    Ok(Verdict::from_problems(
        problems,
        format!(
            "{}{scope} loaded ({} firing, {} pending){including}",
            count(ours.len(), "alerting rule", "alerting rules"),
            firing.len(),
            in_state("pending")
        ),
    ))
}

/// A rule is the job's when a label value is the job or its expression names the job.
fn mentions_job(rule: &Rule, job: &str) -> bool {
    rule.labels.values().any(|v| v == job) || contains_word(&rule.query, job)
}

/// `word` occurs in `text` between characters that are not letters or digits.
fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// `promql`.
pub(crate) async fn promql(spec: &PromqlCheck, probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    finish(promql::check(spec, probe).await)
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

fn host_port(url: &Url) -> Option<(String, u16)> {
    Some((
        normalise_host(url.host_str()?),
        url.port_or_known_default()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_are_found_as_words() {
        assert!(contains_word(r#"up{job="api"} == 0"#, "api"));
        assert!(contains_word("rate(api_requests_total[5m]) > 1", "api"));
        assert!(contains_word(r#"probe_success{job=~"web|api"}"#, "api"));
        assert!(!contains_word("rapid_growth > 1", "api"));
        assert!(!contains_word("apis_total", "api"));
        assert!(!contains_word("anything", ""));
    }
}
