//! The audit log, read-only: `GET /api/v1/audit`. Nothing in the API changes or deletes
//! entries (and database triggers refuse it too).

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AuthUser, Role};
use crate::db::entities::audit_log;
use crate::error::ApiResult;
use crate::http::pagination::{Page, PageParams};
use crate::state::AppState;

/// Target types only admins may read: they concern accounts, not checklists.
const ADMIN_ONLY: &[&str] = &["user", "api_token"];

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub comment: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
    /// checklist, service, review, review_item, user, …
    pub target_type: Option<String>,
    /// Id of the target (with `target_type`).
    pub target_id: Option<String>,
    /// Action, e.g. `review_item.sign_off`.
    pub action: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])),
    params(AuditParams),
    responses((status = 200, description = "Entries, newest first. Account entries (users, tokens) are listed for admins only.", body = Page<AuditEntry>)))]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<AuditParams>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    auth.require_role(Role::Viewer)?;
    let (page, per_page) = PageParams {
        page: params.page,
        per_page: params.per_page,
    }
    .resolve()?;
    let mut q = audit_log::Entity::find()
        .order_by_desc(audit_log::Column::At)
        .order_by_desc(audit_log::Column::Id);
    if let Some(t) = params.target_type.as_deref().filter(|t| !t.is_empty()) {
        if ADMIN_ONLY.contains(&t) {
            auth.require_role(Role::Admin)?;
        }
        q = q.filter(audit_log::Column::TargetType.eq(t));
    } else if auth.role < Role::Admin {
        q = q.filter(audit_log::Column::TargetType.is_not_in(ADMIN_ONLY.iter().copied()));
    }
    if let Some(id) = params.target_id.as_deref().filter(|t| !t.is_empty()) {
        q = q.filter(audit_log::Column::TargetId.eq(id));
    }
    if let Some(a) = params.action.as_deref().filter(|a| !a.is_empty()) {
        q = q.filter(audit_log::Column::Action.eq(a));
    }
    let paginator = q.paginate(&state.db, per_page);
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page - 1).await?;
    Ok(Json(Page {
        items: rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: r.at,
                actor_id: r.actor_id,
                actor: r.actor,
                action: r.action,
                target_type: r.target_type,
                target_id: r.target_id,
                before: r.before,
                after: r.after,
                comment: r.comment,
                request_id: r.request_id,
            })
            .collect(),
        page,
        per_page,
        total,
    }))
}
