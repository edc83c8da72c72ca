//! `grafana_dashboard`: the Grafana of the target (its `grafana` endpoint) has the dashboard.
//! One request, with the endpoint's credentials (e.g. `Authorization: Bearer <service account
//! token>`); the token is never written to a sentence or a fact.
//!
//! - By uid (when `uid` is given): `GET /api/dashboards/uid/{uid}`. 200 passes with the
//!   dashboard's title (and fails when `title` is also given and differs); 404 with Grafana's
//!   `{"message":"Dashboard not found"}` fails; a 404 without it is an `error` (the URL is
//!   probably not Grafana's API).
//! - By title: `GET /api/search?type=dash-db&query=TITLE&limit=1000`. Grafana matches the
//!   query as a case-insensitive substring; the check wants an exact, case-sensitive title
//!   and fails listing the near matches Grafana returned. Search only shows dashboards the
//!   credential may read, so a token without access also fails here.
//! - With neither (the template's "the service's dashboard"): the same search with the
//!   target's service name; passes when a dashboard title contains the name in any case
//!   (`billing` finds "Billing overview"), else fails; without a service name it is a
//!   configuration `error`.
//! - 401 and 403 are an `error`: "Grafana refused the credentials (HTTP 401)".

use preflight_domain::GrafanaDashboardCheck;
use serde::Deserialize;

use super::Verdict;
use super::monitoring::{
    Step, api_url, bounded_list, count, error, finish, get, quoted, unexpected_status,
};
use crate::error::ProbeError;
use crate::probe::{Monitor, Probe, Response};

const GRAFANA: Monitor = Monitor::Grafana;

/// Near matches named in a failure.
const NEAR: usize = 5;

#[derive(Deserialize)]
struct DashboardAnswer {
    dashboard: Dashboard,
    #[serde(default)]
    meta: Meta,
}

#[derive(Deserialize)]
struct Dashboard {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    title: String,
}

#[derive(Deserialize, Default)]
struct Meta {
    url: Option<String>,
    #[serde(rename = "folderTitle")]
    folder_title: Option<String>,
}

#[derive(Deserialize)]
struct Hit {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    title: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(rename = "folderTitle")]
    folder_title: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    message: String,
}

/// `grafana_dashboard`.
pub(crate) async fn run(
    spec: &GrafanaDashboardCheck,
    probe: &Probe<'_>,
) -> Result<Verdict, ProbeError> {
    finish(check(spec, probe).await)
}

async fn check(spec: &GrafanaDashboardCheck, probe: &Probe<'_>) -> Step<Verdict> {
    let title = spec.title.as_deref().filter(|t| !t.is_empty());
    match (spec.uid.as_deref().filter(|u| !u.is_empty()), title) {
        (Some(uid), title) => by_uid(probe, uid, title).await,
        (None, Some(title)) => by_title(probe, title).await,
        (None, None) => {
            let name = probe
                .target()
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    ProbeError::Config(
                        "give the dashboard's title or uid, or the target's service name ([target] name in the check configuration)".into(),
                    )
                })?;
            by_name(probe, name).await
        }
    }
}

async fn by_uid(probe: &Probe<'_>, uid: &str, title: Option<&str>) -> Step<Verdict> {
    let mut url = probe.endpoint_url(GRAFANA, "/api/dashboards/uid")?;
    url.path_segments_mut()
        .map_err(|()| ProbeError::Config("the Grafana URL cannot take a path".into()))?
        .push(uid);
    let response = get(probe, GRAFANA, url).await?;
    probe.fact("uid", uid);
    if response.status.as_u16() == 404 {
        if says_dashboard_not_found(&response) {
            return Ok(Verdict::fail(format!(
                "Grafana has no dashboard with uid \"{uid}\""
            )));
        }
        return unexpected_status(GRAFANA, &response);
    }
    if !response.status.is_success() {
        return unexpected_status(GRAFANA, &response);
    }
    let answer: DashboardAnswer = match response.json("Grafana dashboard answer") {
        Ok(answer) => answer,
        Err(sentence) => return error(sentence),
    };
    let found = &answer.dashboard;
    probe.fact("title", found.title.clone());
    record_place(
        probe,
        answer.meta.folder_title.as_deref(),
        answer.meta.url.as_deref(),
    );
    if !found.uid.is_empty() && found.uid != uid {
        return error(format!(
            "Grafana answered dashboard uid \"{}\" when asked for \"{uid}\"",
            found.uid
        ));
    }
    if let Some(title) = title
        && found.title != title
    {
        return Ok(Verdict::fail(format!(
            "Grafana's dashboard uid \"{uid}\" is titled \"{}\", not \"{title}\"",
            found.title
        )));
    }
    Ok(Verdict::pass(format!(
        "Grafana has dashboard \"{}\" (uid \"{uid}\"{})",
        found.title,
        in_folder(answer.meta.folder_title.as_deref())
    )))
}

async fn by_title(probe: &Probe<'_>, title: &str) -> Step<Verdict> {
    let hits = search(probe, title).await?;
    let dashboards: Vec<&Hit> = hits.iter().filter(|h| is_dashboard(h)).collect();
    let exact: Vec<&&Hit> = dashboards.iter().filter(|h| h.title == title).collect();
    probe.fact("search_results", dashboards.len().to_string());
    probe.fact("exact_matches", exact.len().to_string());
    if let Some(first) = exact.first() {
        let uids: Vec<&str> = exact.iter().map(|h| h.uid.as_str()).collect();
        probe.fact("uid", bounded_list(&uids, NEAR, ", "));
        record_place(probe, first.folder_title.as_deref(), first.url.as_deref());
        let more = match exact.len() {
            1 => String::new(),
            n => format!("; {n} dashboards have that title"),
        };
        return Ok(Verdict::pass(format!(
            "Grafana has dashboard \"{title}\" (uid \"{}\"{}){more}",
            first.uid,
            in_folder(first.folder_title.as_deref())
        )));
    }
    let near: Vec<&str> = dashboards.iter().map(|h| h.title.as_str()).collect();
    if near.is_empty() {
        return Ok(Verdict::fail(format!(
            "Grafana has no dashboard titled \"{title}\" (no dashboard title contains it)"
        )));
    }
    probe.fact("near_matches", bounded_list(&near, NEAR, ", "));
    let shown: Vec<&str> = near.iter().copied().take(NEAR).collect();
    let more = near.len().saturating_sub(NEAR);
    Ok(Verdict::fail(format!(
        "Grafana has no dashboard titled exactly \"{title}\" (near matches: {}{})",
        quoted(&shown),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )))
}

/// Dashboards whose title contains the service's name (any case).
async fn by_name(probe: &Probe<'_>, name: &str) -> Step<Verdict> {
    let hits = search(probe, name).await?;
    let wanted = name.to_lowercase();
    let matching: Vec<&Hit> = hits
        .iter()
        .filter(|h| is_dashboard(h) && h.title.to_lowercase().contains(&wanted))
        .collect();
    probe.fact("service_name", name);
    probe.fact(
        "search_results",
        hits.iter().filter(|h| is_dashboard(h)).count().to_string(),
    );
    let Some(first) = matching.first() else {
        return Ok(Verdict::fail(format!(
            "Grafana has no dashboard whose title contains the service name \"{name}\""
        )));
    };
    let titles: Vec<&str> = matching.iter().map(|h| h.title.as_str()).collect();
    probe.fact("dashboards", bounded_list(&titles, NEAR, ", "));
    probe.fact("uid", first.uid.clone());
    record_place(probe, first.folder_title.as_deref(), first.url.as_deref());
    Ok(Verdict::pass(format!(
        "Grafana has {} whose title contains the service name \"{name}\": {}",
        count(matching.len(), "dashboard", "dashboards"),
        quoted(&titles)
    )))
}

/// `GET /api/search?type=dash-db&query=...`: Grafana's case-insensitive substring search.
async fn search(probe: &Probe<'_>, query: &str) -> Step<Vec<Hit>> {
    let url = api_url(
        probe,
        GRAFANA,
        "/api/search",
        &[("type", "dash-db"), ("query", query), ("limit", "1000")],
    )?;
    let response = get(probe, GRAFANA, url).await?;
    if !response.status.is_success() {
        return unexpected_status(GRAFANA, &response);
    }
    response.json("Grafana search answer").or_else(error)
}

fn is_dashboard(hit: &Hit) -> bool {
    hit.kind.is_empty() || hit.kind == "dash-db"
}

/// Grafana's own 404 for a missing dashboard, as opposed to a route that does not exist.
fn says_dashboard_not_found(response: &Response) -> bool {
    serde_json::from_slice::<Message>(&response.body)
        .is_ok_and(|m| m.message.to_ascii_lowercase().contains("dashboard"))
}

fn record_place(probe: &Probe<'_>, folder: Option<&str>, url: Option<&str>) {
    if let Some(folder) = folder.filter(|f| !f.is_empty()) {
        probe.fact("folder", folder);
    }
    if let Some(url) = url.filter(|u| !u.is_empty()) {
        probe.fact("dashboard_url", url);
    }
}

fn in_folder(folder: Option<&str>) -> String {
    folder
        .filter(|f| !f.is_empty())
        .map(|f| format!(", folder \"{f}\""))
        .unwrap_or_default()
}
