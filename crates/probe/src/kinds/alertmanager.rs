//! `alertmanager_receivers`: the Alertmanager of the target (its `alertmanager` endpoint) has
//! real receivers for the service's alerts. One request: `GET /api/v2/status`, whose
//! `config.original` is the loaded configuration as YAML (secrets already shown as
//! `<secret>` by Alertmanager).
//!
//! - A receiver is *real* when it has at least one non-empty `*_configs` list (email,
//!   webhook, PagerDuty, Slack, ...); a receiver with none (such as the usual `"null"`) drops
//!   alerts.
//! - The receivers that matter are those the route tree sends to: the root `route.receiver`
//!   and every nested `routes[].receiver`, at any depth.
//! - Every name in `receivers` must be defined and real (the missing and empty ones are
//!   named), and at least `min_receivers` real receivers must be referenced by the route
//!   tree; when too few are, the failure names the routed receivers without integration.
//!   A routed `"null"` receiver alone does not fail the check (silencing a Watchdog alert is
//!   common); it is reported as the `routed_without_integration` fact.

use std::collections::BTreeMap;

use preflight_domain::AlertmanagerReceiversCheck;
use serde::Deserialize;

use super::Verdict;
use super::monitoring::{
    LISTED, Step, api_url, bounded_list, count, error, finish, get, quoted, unexpected_status,
};
use crate::error::ProbeError;
use crate::probe::{Monitor, Probe};

const ALERTMANAGER: Monitor = Monitor::Alertmanager;

#[derive(Deserialize)]
struct Status {
    config: Option<StatusConfig>,
}

#[derive(Deserialize)]
struct StatusConfig {
    #[serde(default)]
    original: String,
}

#[derive(Deserialize)]
struct Config {
    route: Option<Route>,
    #[serde(default)]
    receivers: Vec<Receiver>,
}

#[derive(Deserialize)]
struct Route {
    receiver: Option<String>,
    #[serde(default)]
    routes: Vec<Route>,
}

#[derive(Deserialize)]
struct Receiver {
    name: String,
    #[serde(flatten)]
    settings: BTreeMap<String, serde_norway::Value>,
}

impl Receiver {
    /// `email`, `webhook`, ...: the `*_configs` lists that are not empty.
    fn integrations(&self) -> Vec<&str> {
        self.settings
            .iter()
            .filter(|(_, value)| value.as_sequence().is_some_and(|list| !list.is_empty()))
            .filter_map(|(key, _)| key.strip_suffix("_configs"))
            .collect()
    }
}

/// `alertmanager_receivers`.
pub(crate) async fn run(
    spec: &AlertmanagerReceiversCheck,
    probe: &Probe<'_>,
) -> Result<Verdict, ProbeError> {
    finish(check(spec, probe).await)
}

async fn check(spec: &AlertmanagerReceiversCheck, probe: &Probe<'_>) -> Step<Verdict> {
    let url = api_url(probe, ALERTMANAGER, "/api/v2/status", &[])?;
    let response = get(probe, ALERTMANAGER, url).await?;
    if !response.status.is_success() {
        return unexpected_status(ALERTMANAGER, &response);
    }
    let status: Status = match response.json("Alertmanager status answer") {
        Ok(status) => status,
        Err(sentence) => return error(sentence),
    };
    let original = status.config.map(|c| c.original).unwrap_or_default();
    if original.trim().is_empty() {
        return error("the Alertmanager status answer holds no configuration (config.original)");
    }
    let config: Config = match serde_norway::from_str(&original) {
        Ok(config) => config,
        Err(e) => {
            return error(format!(
                "the configuration Alertmanager reports is not the expected YAML: {e}"
            ));
        }
    };

    let defined: BTreeMap<&str, Vec<&str>> = config
        .receivers
        .iter()
        .map(|r| (r.name.as_str(), r.integrations()))
        .collect();
    let mut routed: Vec<&str> = Vec::new();
    if let Some(route) = &config.route {
        collect_receivers(route, &mut routed);
    }
    let routed_real: Vec<&str> = routed
        .iter()
        .copied()
        .filter(|name| defined.get(name).is_some_and(|i| !i.is_empty()))
        .collect();
    let routed_empty: Vec<&str> = routed
        .iter()
        .copied()
        .filter(|name| !routed_real.contains(name))
        .collect();

    let described: Vec<String> = defined
        .iter()
        .map(|(name, integrations)| describe(name, integrations))
        .collect();
    probe.fact("receivers", bounded_list(&described, LISTED, ", "));
    probe.fact("routed_receivers", bounded_list(&routed, LISTED, ", "));
    probe.fact("routed_with_integration", routed_real.len().to_string());
    if !routed_empty.is_empty() {
        probe.fact(
            "routed_without_integration",
            bounded_list(&routed_empty, LISTED, ", "),
        );
    }

    let mut problems = Vec::new();
    let names: Vec<&str> = defined.keys().copied().collect();
    let undefined: Vec<&str> = spec
        .receivers
        .iter()
        .map(String::as_str)
        .filter(|name| !defined.contains_key(name))
        .collect();
    if !undefined.is_empty() {
        problems.push(format!(
            "{} not defined (defined: {})",
            plural_names(&undefined, "receiver is", "receivers are"),
            if names.is_empty() {
                "none".to_owned()
            } else {
                quoted(&names)
            }
        ));
    }
    let empty: Vec<&str> = spec
        .receivers
        .iter()
        .map(String::as_str)
        .filter(|name| defined.get(name).is_some_and(Vec::is_empty))
        .collect();
    if !empty.is_empty() {
        problems.push(format!(
            "{} no integration (no *_configs)",
            plural_names(&empty, "receiver has", "receivers have")
        ));
    }
    let needed = usize::try_from(spec.min_receivers).unwrap_or(usize::MAX);
    if routed_real.len() < needed {
        let without = if routed_empty.is_empty() {
            String::new()
        } else {
            format!(
                "; {} no integration",
                plural_names(
                    &routed_empty,
                    "routed receiver has",
                    "routed receivers have"
                )
            )
        };
        problems.push(format!(
            "the route tree sends alerts to {}, at least {needed} needed{without}",
            count(
                routed_real.len(),
                "receiver with an integration",
                "receivers with an integration"
            )
        ));
    }
    let shown: Vec<String> = routed_real
        .iter()
        .map(|name| describe(name, defined.get(name).map_or(&[][..], Vec::as_slice)))
        .collect();
    Ok(Verdict::from_problems(
        problems,
        format!(
            "the route tree sends alerts to {}: {}",
            count(
                routed_real.len(),
                "receiver with an integration",
                "receivers with an integration"
            ),
            bounded_list(&shown, LISTED, ", ")
        ),
    ))
}

/// Adds the receivers of `route` and of every nested route, in order, once each.
fn collect_receivers<'c>(route: &'c Route, found: &mut Vec<&'c str>) {
    if let Some(name) = route.receiver.as_deref()
        && !found.contains(&name)
    {
        found.push(name);
    }
    for child in &route.routes {
        collect_receivers(child, found);
    }
}

/// `team (email, webhook)`, `null (no integration)`.
fn describe(name: &str, integrations: &[&str]) -> String {
    if integrations.is_empty() {
        format!("{name} (no integration)")
    } else {
        format!("{name} ({})", integrations.join(", "))
    }
}

/// `receiver "a" is` / `receivers "a", "b" are`.
fn plural_names(names: &[&str], one: &str, many: &str) -> String {
    let phrase = if names.len() == 1 { one } else { many };
    let (noun, verb) = phrase.rsplit_once(' ').unwrap_or((phrase, ""));
    format!("{noun} {} {verb}", quoted(names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_integrations_are_read_from_the_yaml() {
        let yaml = r#"
route:
  receiver: team
  routes:
    - receiver: "null"
      matchers: ['alertname="Watchdog"']
    - matchers: ['severity="critical"']
      routes:
        - receiver: oncall
receivers:
  - name: team
    webhook_configs:
      - url: <secret>
    email_configs: []
  - name: "null"
  - name: oncall
    pagerduty_configs:
      - routing_key: <secret>
"#;
        let config: Config = serde_norway::from_str(yaml).expect("parses");
        let mut routed = Vec::new();
        collect_receivers(config.route.as_ref().expect("route"), &mut routed);
        assert_eq!(routed, vec!["team", "null", "oncall"]);
        let integrations: Vec<Vec<&str>> = config
            .receivers
            .iter()
            .map(Receiver::integrations)
            .collect();
        assert_eq!(
            integrations,
            vec![vec!["webhook"], vec![], vec!["pagerduty"]]
        );
        assert_eq!(
            plural_names(&["a"], "receiver is", "receivers are"),
            "receiver \"a\" is"
        );
        assert_eq!(
            plural_names(&["null"], "routed receiver has", "routed receivers have"),
            "routed receiver \"null\" has"
        );
        assert_eq!(
            plural_names(&["a", "b"], "receiver has", "receivers have"),
            "receivers \"a\", \"b\" have"
        );
    }
}
