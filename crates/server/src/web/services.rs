//! The overview of every service, registering a service, a service's page with its reviews
//! and items, the item actions, attaching a checklist and the Markdown export.

use std::collections::BTreeSet;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::views::{SectionBlock, percent, sections_of, when_or_never};
use super::{Layout, WebError, WebResult, WebUser, render, see_other};
use crate::api::readiness::{
    self as readiness_api, Overview, ReviewReadiness, ServiceReadiness, ServiceSummary,
};
use crate::api::review_items::{ItemAction, perform};
use crate::api::reviews::{AttachChecklist, attach_checklist};
use crate::api::services::{CreateService, register};
use crate::state::AppState;
use crate::store::{checklists, reviews, services};

#[derive(Debug, Deserialize)]
pub struct OverviewParams {
    pub environment: Option<String>,
    pub owner: Option<String>,
}

pub struct OverviewRow {
    pub id: Uuid,
    pub name: String,
    pub environment: String,
    pub owners: String,
    pub ready: bool,
    pub ratio: u32,
    pub failed: u32,
    pub pending: u32,
    pub last_verified: String,
}

#[derive(askama::Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    rows: Vec<OverviewRow>,
    environments: Vec<String>,
    owners: Vec<String>,
    environment: String,
    owner: String,
    total: usize,
    ready: usize,
}

fn given(v: Option<String>) -> String {
    v.map(|v| v.trim().to_owned()).unwrap_or_default()
}

/// `GET /services`: readiness of every service, filtered by environment and owner.
pub async fn overview(
    State(state): State<AppState>,
    user: WebUser,
    Query(params): Query<OverviewParams>,
) -> WebResult {
    let overview: Overview = readiness_api::overview_document(&state).await?.value()?;
    let ids: Vec<Uuid> = overview.services.iter().map(|s| s.service_id).collect();
    let owners_of = services::owners_of(&state.db, &ids).await?;
    let environment = given(params.environment);
    let owner = given(params.owner);
    let environments: BTreeSet<String> = overview
        .services
        .iter()
        .map(|s| s.environment.clone())
        .collect();
    let all_owners: BTreeSet<String> = owners_of.values().flatten().cloned().collect();
    let rows: Vec<OverviewRow> = overview
        .services
        .iter()
        .filter(|s| environment.is_empty() || s.environment == environment)
        .filter(|s| {
            owner.is_empty()
                || owners_of
                    .get(&s.service_id)
                    .is_some_and(|o| o.contains(&owner))
        })
        .map(|s: &ServiceSummary| OverviewRow {
            id: s.service_id,
            name: s.name.clone(),
            environment: s.environment.clone(),
            owners: owners_of
                .get(&s.service_id)
                .map(|o| o.join(", "))
                .unwrap_or_default(),
            ready: s.ready,
            ratio: percent(s.ratio),
            failed: s.counts.failed,
            pending: s.counts.pending,
            last_verified: when_or_never(s.last_verified),
        })
        .collect();
    let ready = rows.iter().filter(|r| r.ready).count();
    Ok(render(
        StatusCode::OK,
        &OverviewPage {
            layout: Layout::new("Overview", Some(&user), "services"),
            total: rows.len(),
            ready,
            rows,
            environments: environments.into_iter().collect(),
            owners: all_owners.into_iter().collect(),
            environment,
            owner,
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct ServiceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    owners: String,
    #[serde(default)]
    description: String,
}

#[derive(askama::Template)]
#[template(path = "service_new.html")]
struct NewServicePage {
    layout: Layout,
    form: ServiceForm,
    error: Option<String>,
}

/// `GET /services/new`.
pub async fn new_form(user: WebUser) -> Response {
    let form = ServiceForm {
        environment: "production".into(),
        ..ServiceForm::default()
    };
    render(
        StatusCode::OK,
        &NewServicePage {
            layout: Layout::new("Register a service", Some(&user), "services"),
            form,
            error: None,
        },
    )
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// `POST /services/new`: registered through the API's function, then its page.
pub async fn create(
    State(state): State<AppState>,
    user: WebUser,
    Form(form): Form<ServiceForm>,
) -> WebResult {
    user.check_csrf(&form.csrf)?;
    let owners: Vec<&str> = form
        .owners
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .collect();
    // The form is the API's request body (fields the form does not have take their defaults).
    let body: CreateService = serde_json::from_value(serde_json::json!({
        "name": form.name,
        "environment": optional(&form.environment),
        "base_url": optional(&form.base_url),
        "description": optional(&form.description),
        "owners": owners,
    }))
    .map_err(|e| WebError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    match register(&state, &user.auth, body).await {
        Ok((created, _)) => Ok(see_other(&format!("/services/{}", created.id))),
        Err(e)
            if e.status == StatusCode::UNPROCESSABLE_ENTITY || e.status == StatusCode::CONFLICT =>
        {
            let status = e.status;
            Ok(render(
                status,
                &NewServicePage {
                    layout: Layout::new("Register a service", Some(&user), "services"),
                    error: Some(WebError::from(e).summary()),
                    form,
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

pub struct ReviewBlock {
    pub id: Uuid,
    pub title: String,
    pub ready: bool,
    pub ratio: u32,
    pub checklist_version: i32,
    pub sections: Vec<SectionBlock>,
}

pub struct ChecklistChoice {
    pub id: Uuid,
    pub name: String,
}

#[derive(askama::Template)]
#[template(path = "service.html")]
struct ServicePage {
    layout: Layout,
    id: Uuid,
    name: String,
    environment: String,
    base_url: String,
    description: String,
    owners: String,
    ready: bool,
    ratio: u32,
    failed: u32,
    pending: u32,
    last_verified: String,
    reviews: Vec<ReviewBlock>,
    checklists: Vec<ChecklistChoice>,
    today: String,
}

/// `GET /services/{id}`: the service, its readiness and every review with its items.
pub async fn page(State(state): State<AppState>, user: WebUser, Path(id): Path<Uuid>) -> WebResult {
    let svc = services::find(&state.db, id).await?;
    let owners = services::owners(&state.db, id).await?;
    let readiness: ServiceReadiness = readiness_api::service_document(&state, id).await?.value()?;
    let now = Utc::now();
    let mut blocks = Vec::with_capacity(readiness.reviews.len());
    for brief in &readiness.reviews {
        let lr = reviews::load(&state.db, brief.review_id).await?;
        let view = crate::api::reviews::view(&lr, now)?;
        let score: ReviewReadiness = readiness_api::review_document(&state, brief.review_id)
            .await?
            .value()?;
        let ratios: Vec<(Option<String>, f64)> = score
            .sections
            .iter()
            .map(|s| (s.section.clone(), s.score.ratio))
            .collect();
        blocks.push(ReviewBlock {
            id: brief.review_id,
            title: brief.title.clone(),
            ready: brief.ready,
            ratio: percent(brief.ratio),
            checklist_version: view.summary.checklist_version,
            sections: sections_of(&view.items, &ratios),
        });
    }
    let filter = checklists::Filter {
        name: None,
        include_archived: false,
    };
    let (templates, _) = checklists::list(&state.db, &filter, 1, 200).await?;
    Ok(render(
        StatusCode::OK,
        &ServicePage {
            layout: Layout::new(svc.name.clone(), Some(&user), "services"),
            id,
            name: svc.name,
            environment: svc.environment,
            base_url: svc.base_url.unwrap_or_default(),
            description: svc.description.unwrap_or_default(),
            owners: owners.join(", "),
            ready: readiness.ready,
            ratio: percent(readiness.overall.ratio),
            failed: readiness.overall.counts.failed,
            pending: readiness.overall.counts.pending,
            last_verified: when_or_never(readiness.last_verified),
            reviews: blocks,
            checklists: templates
                .into_iter()
                .map(|c| ChecklistChoice {
                    id: c.id,
                    name: c.name,
                })
                .collect(),
            today: now.format("%Y-%m-%d").to_string(),
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct AttachForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    checklist: String,
}

fn parse_id(text: &str, what: &str) -> WebResult<Uuid> {
    text.trim()
        .parse()
        .map_err(|_| WebError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("choose a {what}")))
}

/// Attaches a checklist to a service through the API's function; then the service's page.
pub async fn attach_and_show(
    state: &AppState,
    user: &WebUser,
    service_id: Uuid,
    checklist_id: Uuid,
) -> WebResult {
    let body = AttachChecklist {
        checklist_id,
        title: None,
    };
    let review = attach_checklist(state, &user.auth, service_id, body).await?;
    Ok(see_other(&format!(
        "/services/{service_id}#review-{review}"
    )))
}

/// `POST /services/{id}/attach`.
pub async fn attach(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<Uuid>,
    Form(form): Form<AttachForm>,
) -> WebResult {
    user.check_csrf(&form.csrf)?;
    let checklist = parse_id(&form.checklist, "checklist")?;
    attach_and_show(&state, &user, id, checklist).await
}

#[derive(Debug, Deserialize)]
pub struct ItemForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    expires: String,
}

/// The form's action as the API's.
fn item_action(form: &ItemForm) -> WebResult<ItemAction> {
    let note = optional(&form.note);
    Ok(match form.action.as_str() {
        "sign_off" => ItemAction::SignOff { comment: note },
        "fail" => ItemAction::Fail { comment: note },
        "reset" => ItemAction::Reset { comment: note },
        "not_applicable" => ItemAction::NotApplicable {
            reason: note.unwrap_or_default(),
        },
        "waive" => {
            let date =
                NaiveDate::parse_from_str(form.expires.trim(), "%Y-%m-%d").map_err(|_| {
                    WebError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "a waiver needs an expiry date (YYYY-MM-DD)",
                    )
                })?;
            let expires_at = date
                .and_hms_opt(23, 59, 59)
                .map(|d| d.and_utc())
                .ok_or_else(|| WebError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid date"))?;
            ItemAction::Waive {
                reason: note.unwrap_or_default(),
                expires_at,
            }
        }
        other => {
            return Err(WebError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown action {other:?}"),
            ));
        }
    })
}

/// `POST /reviews/{id}/items`: an item action through the API's function (its role checks:
/// editors act, admins waive); then the item on its service's page.
pub async fn act(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<Uuid>,
    Form(form): Form<ItemForm>,
) -> WebResult {
    user.check_csrf(&form.csrf)?;
    let action = item_action(&form)?;
    let (lr, row) = perform(&state, &user.auth, id, &form.key, &HeaderMap::new(), action).await?;
    Ok(see_other(&format!(
        "/services/{}#item-{}",
        lr.review.service_id, row.id
    )))
}

/// `GET /reviews/{id}/export`: the API's Markdown export, as a download.
pub async fn export(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<Uuid>,
) -> WebResult {
    let format = crate::api::reviews::ExportParam {
        format: Some(crate::api::reviews::ExportFormat::Markdown),
    };
    let mut res = crate::api::reviews::get(
        State(state),
        user.auth,
        Path(id),
        Query(format),
        HeaderMap::new(),
    )
    .await?;
    attachment(&mut res, &format!("review-{id}.md"));
    Ok(res)
}

/// Marks a response as a file to save under `name`.
pub fn attachment(res: &mut Response, name: &str) {
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
}
