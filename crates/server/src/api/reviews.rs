//! Reviews: a checklist attached to a service. Attaching copies the template version, so
//! template edits never rewrite an existing review. `/api/v1/services/{id}/reviews`,
//! `/api/v1/reviews/{id}` (JSON, or the Markdown export with the state filled in).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use preflight_domain::{ItemRecord, ItemReport, ItemState, to_markdown_with_state};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::checklists::{SectionView, document_of};
use super::etag::check_if_match;
use super::review_items::{ReviewItemView, item_view};
use super::review_state::{self, LoadedReview, record_of};
use super::support::{FormatParam, json_with_etag, markdown_response, wants_markdown};
use crate::auth::{AuthUser, Role};
use crate::db::audit;
use crate::db::entities::{checklist, review, review_item};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::http::pagination::{Page, PageParams};
use crate::readiness_cache;
use crate::state::AppState;

/// A review in lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewSummary {
    pub id: Uuid,
    pub service_id: Uuid,
    pub checklist_id: Uuid,
    /// The template version this review was copied from.
    pub checklist_version: i32,
    pub title: String,
    pub version: i32,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A review with every item and its current state (also the JSON export).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    #[serde(flatten)]
    pub summary: ReviewSummary,
    pub sections: Vec<SectionView>,
    pub items: Vec<ReviewItemView>,
}

impl From<&review::Model> for ReviewSummary {
    fn from(r: &review::Model) -> Self {
        Self {
            id: r.id,
            service_id: r.service_id,
            checklist_id: r.checklist_id,
            checklist_version: r.checklist_version,
            title: r.title.clone(),
            version: r.version,
            created_by: r.created_by.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub fn view(lr: &LoadedReview, now: DateTime<Utc>) -> ApiResult<ReviewView> {
    let items = lr
        .rows
        .iter()
        .filter_map(|row| lr.item(&row.key).map(|item| item_view(lr, item, row, now)))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(ReviewView {
        summary: (&lr.review).into(),
        sections: lr
            .checklist
            .sections
            .iter()
            .map(|s| SectionView {
                title: s.title.clone(),
                groups: s.groups.clone(),
            })
            .collect(),
        items,
    })
}

/// Body of `POST /services/{id}/reviews`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachChecklist {
    pub checklist_id: Uuid,
    /// Default: the checklist's name.
    #[serde(default)]
    pub title: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/services/{id}/reviews", tag = "reviews", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id"), PageParams),
    responses((status = 200, description = "Reviews of the service, oldest first", body = Page<ReviewSummary>),
        (status = 404, description = "No such service", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Page<ReviewSummary>>> {
    auth.require_role(Role::Viewer)?;
    let (page, per_page) = params.resolve()?;
    super::services::find(&state.db, id).await?;
    let paginator = review::Entity::find()
        .filter(review::Column::ServiceId.eq(id))
        .filter(review::Column::DeletedAt.is_null())
        .order_by_asc(review::Column::CreatedAt)
        .paginate(&state.db, per_page);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page - 1).await?;
    Ok(Json(Page {
        items: items.iter().map(Into::into).collect(),
        page,
        per_page,
        total,
    }))
}

#[utoipa::path(post, path = "/api/v1/services/{id}/reviews", tag = "reviews", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id")),
    request_body = AttachChecklist,
    responses((status = 201, description = "Attached: a copy of the current template version", body = ReviewView),
        (status = 403, description = "Viewers cannot attach checklists", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The checklist is already attached", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown checklist", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn attach(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(service_id): Path<Uuid>,
    ApiJson(body): ApiJson<AttachChecklist>,
) -> ApiResult<Response> {
    auth.require_write(Role::Editor)?;
    super::services::find(&state.db, service_id).await?;
    let template = checklist::Entity::find_by_id(body.checklist_id)
        .filter(checklist::Column::ArchivedAt.is_null())
        .one(&state.db)
        .await?
        .ok_or_else(|| {
            ApiError::validation("unknown checklist").field(
                "checklist_id",
                format!("no checklist {}", body.checklist_id),
            )
        })?;
    let title = match body.title.as_deref().map(str::trim) {
        Some(t) if t.is_empty() || t.chars().count() > 200 => {
            return Err(
                ApiError::validation("invalid review").field("title", "1 to 200 characters")
            );
        }
        Some(t) => t.to_owned(),
        None => template.name.clone(),
    };
    let doc = document_of(&template)?;
    let empty_record = serde_json::to_value(ItemRecord::default()).map_err(ApiError::internal)?;
    let now = Utc::now();
    let id = Uuid::now_v7();
    let txn = state.db.begin().await?;
    let existing = review::Entity::find()
        .filter(review::Column::ServiceId.eq(service_id))
        .filter(review::Column::ChecklistId.eq(template.id))
        .filter(review::Column::DeletedAt.is_null())
        .one(&txn)
        .await?;
    if let Some(r) = existing {
        return Err(ApiError::conflict(format!(
            "this checklist is already attached to the service as review {}; delete that review to start over",
            r.id
        )));
    }
    review::ActiveModel {
        id: Set(id),
        service_id: Set(service_id),
        checklist_id: Set(template.id),
        checklist_version: Set(template.version),
        title: Set(title),
        document: Set(template.document.clone()),
        version: Set(1),
        created_by: Set(Some(auth.email.clone())),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let mut rows = Vec::with_capacity(doc.items.len());
    for (position, item) in doc.items.iter().enumerate() {
        rows.push(review_item::ActiveModel {
            id: Set(Uuid::now_v7()),
            review_id: Set(id),
            key: Set(item.key.clone()),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
            check_spec: Set(item
                .check
                .as_ref()
                .map(serde_json::to_value)
                .transpose()
                .map_err(ApiError::internal)?),
            re_attest_days: Set(item.re_attest_days.and_then(|d| i32::try_from(d).ok())),
            requires_comment: Set(item.requires_comment),
            record: Set(empty_record.clone()),
            version: Set(1),
            updated_at: Set(now),
        });
    }
    // Chunks keep every statement well under the backends' bind-parameter limits.
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(100));
        review_item::Entity::insert_many(std::mem::replace(&mut rows, rest))
            .exec(&txn)
            .await?;
    }
    audit::record(
        &txn,
        &auth.actor(),
        audit::Entry {
            action: "review.create",
            target_type: "review",
            target_id: id.to_string(),
            before: None,
            after: Some(
                serde_json::json!({"service_id": service_id, "checklist_id": template.id,
                "checklist_version": template.version, "items": doc.items.len()}),
            ),
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    readiness_cache::after_write(&state, Some(service_id)).await;
    let lr = review_state::load(&state.db, id).await?;
    let mut res = json_with_etag(
        StatusCode::CREATED,
        lr.review.version,
        view(&lr, Utc::now())?,
    );
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/reviews/{id}")) {
        res.headers_mut().insert(header::LOCATION, location);
    }
    Ok(res)
}

/// What the Markdown export says about an item: who decided its state, when, and why.
pub fn report(record: &ItemRecord, state: ItemState) -> Option<ItemReport> {
    let person = |by: &str, at, note: Option<String>| {
        Some(ItemReport {
            state,
            by: Some(by.to_owned()),
            at: Some(at),
            note,
        })
    };
    match state {
        ItemState::Pending => None,
        ItemState::Waived => record.waiver.as_ref().and_then(|w| {
            let note = format!("{} (until {})", w.reason, w.expires_at.format("%Y-%m-%d"));
            person(&w.by, w.at, Some(note))
        }),
        ItemState::NotApplicable => record
            .exclusion
            .as_ref()
            .and_then(|e| person(&e.by, e.at, Some(e.reason.clone()))),
        ItemState::Passed | ItemState::Failed => {
            let manual = record.attestation.as_ref();
            match (manual, &record.last_run) {
                (Some(a), Some(run)) if run.at > a.at => person("automated check", run.at, None),
                (Some(a), _) => person(&a.by, a.at, a.comment.clone()),
                (None, Some(run)) => person("automated check", run.at, None),
                (None, None) => None,
            }
        }
    }
}

#[utoipa::path(get, path = "/api/v1/reviews/{id}", tag = "reviews", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Review id"), FormatParam),
    responses((status = 200, description = "The review with every item's state (the JSON export)", body = ReviewView, content_type = "application/json"),
        (status = 200, description = "Markdown export: `[x]` for passed and waived items, a trailing note with state, who and when", body = String, content_type = "text/markdown"),
        (status = 404, description = "No such review", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    Query(format): Query<FormatParam>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    auth.require_role(Role::Viewer)?;
    let lr = review_state::load(&state.db, id).await?;
    let now = Utc::now();
    if wants_markdown(&headers, format.format) {
        let mut reports = std::collections::HashMap::new();
        for row in &lr.rows {
            let record = record_of(row)?;
            let item_state = lr.state_of(row, now)?;
            if let Some(r) = report(&record, item_state) {
                reports.insert(row.key.clone(), r);
            }
        }
        let text = to_markdown_with_state(&lr.checklist, &|item| reports.get(&item.key).cloned());
        return Ok(markdown_response(text, Some(lr.review.version)));
    }
    Ok(json_with_etag(
        StatusCode::OK,
        lr.review.version,
        view(&lr, now)?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/reviews/{id}", tag = "reviews", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Review id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    responses((status = 204, description = "Detached (soft: the audit trail keeps its history)"),
        (status = 403, description = "Viewers cannot detach", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such review", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    auth.require_write(Role::Editor)?;
    let lr = review_state::load(&state.db, id).await?;
    check_if_match(&headers, lr.review.version)?;
    let txn = state.db.begin().await?;
    let result = review::Entity::update_many()
        .col_expr(review::Column::DeletedAt, Expr::value(Utc::now()))
        .col_expr(review::Column::Version, Expr::value(lr.review.version + 1))
        .filter(review::Column::Id.eq(id))
        .filter(review::Column::Version.eq(lr.review.version))
        .filter(review::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(ApiError::conflict(
            "the review was changed concurrently; fetch it again",
        ));
    }
    audit::record(
        &txn,
        &auth.actor(),
        audit::Entry {
            action: "review.delete",
            target_type: "review",
            target_id: id.to_string(),
            before: Some(serde_json::json!({"service_id": lr.review.service_id, "checklist_id": lr.review.checklist_id, "title": lr.review.title})),
            after: None,
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    readiness_cache::after_write(&state, Some(lr.review.service_id)).await;
    Ok(StatusCode::NO_CONTENT)
}
