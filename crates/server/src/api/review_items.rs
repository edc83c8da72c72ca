//! Items of a review: `/api/v1/reviews/{id}/items/{key}`. State changes follow the domain's
//! transition rules (`preflight_domain::state`); each one is a compare-and-set on the item's version
//! with its audit entry in the same transaction.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use preflight_domain::{
    Action, Attestation, CheckSpec, Exclusion, Item, ItemState, RunResult, TransitionContext,
    TransitionError, Waiver, apply_action, effective_state, validate_transition,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::checklists::CheckUpdate;
use super::etag::check_if_match;
use super::support::json_with_etag;
use crate::auth::{AuthUser, Role};
use crate::db::entities::review_item;
use crate::docs::problems;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::state::AppState;
use crate::store::reviews::{self, LoadedReview, StateChange, check_of, re_attest_days, record_of};
use crate::store::{StoreError, check_runs};
use crate::write::Write;

/// Longest comment or reason kept, in characters (also in the schema, held to it by
/// routes_tests.rs).
pub const MAX_TEXT: usize = 4000;
/// Compare-and-set attempts before a busy item answers 409.
const ATTEMPTS: usize = 8;

/// One item of a review with its state and what decided it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewItemView {
    pub id: Uuid,
    pub key: String,
    pub text: String,
    pub section: Option<String>,
    pub group: Option<String>,
    pub optional: bool,
    pub parent: Option<String>,
    pub depth: u32,
    /// pending, passed, failed, waived or not_applicable (effective now).
    pub state: String,
    #[schema(value_type = Option<Object>)]
    pub check: Option<CheckSpec>,
    pub check_definition: Option<String>,
    pub re_attest_days: Option<i32>,
    pub requires_comment: bool,
    #[schema(value_type = Option<Object>)]
    pub attestation: Option<Attestation>,
    #[schema(value_type = Option<Object>)]
    pub waiver: Option<Waiver>,
    #[schema(value_type = Option<Object>)]
    pub exclusion: Option<Exclusion>,
    /// The latest check run: outcome, when, the sentence saying why, and its id
    /// (`/api/v1/check-runs/{run_id}`).
    #[schema(value_type = Option<Object>)]
    pub last_run: Option<RunResult>,
    /// The latest run's full evidence: every request and what came back.
    #[schema(value_type = Option<Object>)]
    pub last_run_evidence: Option<serde_json::Value>,
    /// Also the item's ETag (`"v<version>"`).
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

fn state_name(s: ItemState) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn item_view(
    lr: &LoadedReview,
    item: &Item,
    row: &review_item::Model,
    now: DateTime<Utc>,
) -> ApiResult<ReviewItemView> {
    let record = record_of(row)?;
    let check = check_of(row)?;
    Ok(ReviewItemView {
        id: row.id,
        key: row.key.clone(),
        text: item.text.clone(),
        section: item.section.clone(),
        group: item.group.clone(),
        optional: item.optional,
        parent: item.parent.clone(),
        depth: item.depth,
        state: state_name(lr.state_of(row, now)?),
        check_definition: check.as_ref().map(CheckSpec::to_definition),
        check,
        re_attest_days: row.re_attest_days,
        requires_comment: row.requires_comment,
        attestation: record.attestation,
        waiver: record.waiver,
        exclusion: record.exclusion,
        last_run: record.last_run,
        last_run_evidence: None,
        version: row.version,
        updated_at: row.updated_at,
    })
}

/// Fills in the evidence of each view's latest run (one query for all of them; a run that
/// retention pruned has none).
pub async fn with_evidence(state: &AppState, views: &mut [ReviewItemView]) -> ApiResult<()> {
    let ids: Vec<Uuid> = views
        .iter()
        .filter_map(|v| v.last_run.as_ref()?.run_id.as_deref()?.parse().ok())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let mut runs: std::collections::HashMap<String, serde_json::Value> =
        check_runs::by_ids(&state.db, &ids)
            .await?
            .into_iter()
            .map(|r| (r.id.to_string(), r.evidence))
            .collect();
    for view in views {
        if let Some(id) = view.last_run.as_ref().and_then(|r| r.run_id.as_deref()) {
            view.last_run_evidence = runs.remove(id);
        }
    }
    Ok(())
}

/// A manual change of an item's state.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
#[schema(example = json!({"action": "sign_off", "comment": "Runbook reviewed with the on-call team"}))]
pub enum ItemAction {
    /// Sign the item off (editor). `comment` is required when the template asks for one.
    SignOff {
        #[serde(default)]
        #[schema(max_length = 4000)]
        comment: Option<String>,
    },
    /// Mark the item failed (editor).
    Fail {
        #[serde(default)]
        #[schema(max_length = 4000)]
        comment: Option<String>,
    },
    /// Exempt the item until `expires_at` (admin, in the future); counts as passed until then.
    Waive {
        #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
        reason: String,
        expires_at: DateTime<Utc>,
    },
    /// Exclude the item from the score (editor).
    #[serde(alias = "mark_not_applicable")]
    NotApplicable {
        #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
        reason: String,
    },
    /// Clear sign-off, waiver and exclusion (editor).
    Reset {
        #[serde(default)]
        #[schema(max_length = 4000)]
        comment: Option<String>,
    },
}

impl ItemAction {
    fn name(&self) -> &'static str {
        match self {
            Self::SignOff { .. } => "sign_off",
            Self::Fail { .. } => "fail",
            Self::Waive { .. } => "waive",
            Self::NotApplicable { .. } => "not_applicable",
            Self::Reset { .. } => "reset",
        }
    }

    /// The text the audit entry carries as its comment.
    fn comment(&self) -> Option<String> {
        match self {
            Self::SignOff { comment } | Self::Fail { comment } | Self::Reset { comment } => {
                comment.clone()
            }
            Self::Waive { reason, .. } | Self::NotApplicable { reason } => Some(reason.clone()),
        }
    }

    fn into_domain(self) -> Action {
        match self {
            Self::SignOff { comment } => Action::SignOff { comment },
            Self::Fail { comment } => Action::Fail { comment },
            Self::Waive { reason, expires_at } => Action::Waive { reason, expires_at },
            Self::NotApplicable { reason } => Action::MarkNotApplicable { reason },
            Self::Reset { .. } => Action::Reset,
        }
    }
}

fn transition_problem(e: &TransitionError) -> ApiError {
    match e {
        TransitionError::CommentRequired => {
            ApiError::validation(e.to_string()).field("comment", "required by this item")
        }
        TransitionError::ReasonRequired => {
            ApiError::validation(e.to_string()).field("reason", "required")
        }
        TransitionError::ExpiryNotInFuture { .. } => {
            ApiError::validation(e.to_string()).field("expires_at", "must be in the future")
        }
        TransitionError::NotAllowed { .. } => ApiError::conflict(e.to_string()),
    }
}

/// An item of a review (`/reviews/{id}/items/{key}`) and its check.
/// Each handler is routed together with its `#[utoipa::path]` operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get, act))
        .routes(routes!(put_check))
}

#[utoipa::path(get, path = "/reviews/{id}/items/{key}", operation_id = "get_review_item", tag = "reviews", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Review id"),
        ("key" = String, Path, description = "Item key, URL-encoded (`/` as `%2F`)")),
    responses((status = 200, description = "The item; ETag carries its version", body = ReviewItemView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 404, response = problems::NotFound)))]
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, key)): Path<(Uuid, String)>,
) -> ApiResult<Response> {
    auth.require_role(Role::Viewer)?;
    let lr = reviews::load(&state.db, id).await?;
    let (item, row) = lr.find_item(&key)?;
    let mut view = [item_view(&lr, item, row, Utc::now())?];
    with_evidence(&state, &mut view).await?;
    let [view] = view;
    Ok(json_with_etag(StatusCode::OK, row.version, view))
}

#[utoipa::path(post, path = "/reviews/{id}/items/{key}", operation_id = "act_on_review_item", tag = "reviews", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Review id"),
        ("key" = String, Path, description = "Item key, URL-encoded (`/` as `%2F`)"),
        ("If-Match" = Option<String>, Header, description = "Item ETag; without it concurrent changes are applied one after the other")),
    request_body = ItemAction,
    responses((status = 200, description = "The item after the change", body = ReviewItemView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::ValidationFailed)))]
pub async fn act(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, key)): Path<(Uuid, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ItemAction>,
) -> ApiResult<Response> {
    let (lr, updated) = perform(&state, &auth, id, &key, &headers, body).await?;
    let (item, _) = lr.find_item(&key)?;
    Ok(json_with_etag(
        StatusCode::OK,
        updated.version,
        item_view(&lr, item, &updated, Utc::now())?,
    ))
}

/// Applies a manual action to item `key` of review `id` (the API and the web page): the
/// review as loaded and the item's row after the change. With `If-Match` in `headers` the
/// change applies only to that version of the item.
pub async fn perform(
    state: &AppState,
    auth: &AuthUser,
    id: Uuid,
    key: &str,
    headers: &HeaderMap,
    body: ItemAction,
) -> ApiResult<(LoadedReview, review_item::Model)> {
    // Waivers are exemptions from the platform's rules: only admins grant them.
    auth.require_write(if matches!(body, ItemAction::Waive { .. }) {
        Role::Admin
    } else {
        Role::Editor
    })?;
    if body.comment().is_some_and(|c| c.chars().count() > MAX_TEXT) {
        return Err(ApiError::validation("too long")
            .field("comment", format!("at most {MAX_TEXT} characters")));
    }
    let lr = reviews::load(&state.db, id).await?;
    let (_, first) = lr.find_item(key)?;
    check_if_match(headers, first.version)?;
    let strict = headers.contains_key(axum::http::header::IF_MATCH);
    let audit_action = match body.name() {
        "sign_off" => "review_item.sign_off",
        "fail" => "review_item.fail",
        "waive" => "review_item.waive",
        "not_applicable" => "review_item.not_applicable",
        _ => "review_item.reset",
    };
    let comment = body.comment();
    let action = body.into_domain();
    let mut row = first.clone();
    for _ in 0..ATTEMPTS {
        let record = record_of(&row)?;
        let now = Utc::now();
        let re_attest = re_attest_days(&row);
        let from = effective_state(&record, re_attest, now);
        let ctx = TransitionContext {
            now,
            requires_comment: row.requires_comment,
        };
        validate_transition(from, &action, &ctx).map_err(|e| transition_problem(&e))?;
        let next = apply_action(&record, &action, &auth.email, now);
        let change = StateChange {
            action: audit_action,
            from,
            to: effective_state(&next, re_attest, now),
            next,
            comment: comment.clone(),
        };
        let write = Write::changing_readiness(state, auth.actor(), lr.review.service_id).await?;
        match reviews::set_record(write.txn(), &row, change, now).await {
            Ok(change) => write.commit(change).await?,
            // Someone changed the item since it was read: with If-Match that is the client's
            // precondition failing; without, the action applies to the item as it is now.
            Err(StoreError::Changed(_)) => {
                write.rollback().await?;
                if strict {
                    return Err(ApiError::precondition_failed(
                        "the item has changed since your read; fetch it again",
                    ));
                }
                row = reviews::item(&state.db, row.id).await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        let updated = reviews::item(&state.db, row.id).await?;
        return Ok((lr, updated));
    }
    Err(ApiError::conflict(
        "the item is being changed by others right now; try again",
    ))
}

#[utoipa::path(put, path = "/reviews/{id}/items/{key}/check", operation_id = "set_review_item_check", tag = "reviews", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Review id"),
        ("key" = String, Path, description = "Item key, URL-encoded (`/` as `%2F`)"),
        ("If-Match" = Option<String>, Header, description = "Item ETag")),
    request_body = CheckUpdate,
    responses((status = 200, description = "The item with its new check (or none)", body = ReviewItemView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::ValidationFailed)))]
pub async fn put_check(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, key)): Path<(Uuid, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CheckUpdate>,
) -> ApiResult<Response> {
    auth.require_write(Role::Editor)?;
    let check = body.resolve()?;
    let lr = reviews::load(&state.db, id).await?;
    let (item, row) = lr.find_item(&key)?;
    check_if_match(&headers, row.version)?;
    let write = Write::changing_readiness(&state, auth.actor(), lr.review.service_id).await?;
    let change = reviews::set_check(write.txn(), row, check.as_ref()).await?;
    write.commit(change).await?;
    let updated = reviews::item(&state.db, row.id).await?;
    Ok(json_with_etag(
        StatusCode::OK,
        updated.version,
        item_view(&lr, item, &updated, Utc::now())?,
    ))
}
