//! The audit log, read-only: `GET /api/v1/audit`. Nothing in the API changes or deletes
//! entries (and database triggers refuse it too).

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{AuthUser, Role};
use crate::docs::problems;
use crate::error::ApiResult;
use crate::http::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::store::audit_log;

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
    /// 1-based page number (default 1, at most 1000000).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u64>,
    /// Items per page (default 50, at most 200).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u64>,
    /// checklist, service, review, review_item, user, …
    pub target_type: Option<String>,
    /// Id of the target (with `target_type`).
    pub target_id: Option<String>,
    /// Action, e.g. `review_item.sign_off`.
    pub action: Option<String>,
}

/// `/audit`, routed together with its `#[utoipa::path]` operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[utoipa::path(get, path = "/audit", operation_id = "list_audit_entries", tag = "audit", security(("bearer" = [])),
    params(AuditParams),
    responses((status = 200, description = "Entries, newest first. Account entries (users, tokens) are listed for admins only.", body = Page<AuditEntry>),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 422, response = problems::ValidationFailed)))]
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
    let target_type = params.target_type.as_deref().filter(|t| !t.is_empty());
    if target_type.is_some_and(|t| ADMIN_ONLY.contains(&t)) {
        auth.require_role(Role::Admin)?;
    }
    let filter = audit_log::Filter {
        target_type,
        target_id: params.target_id.as_deref().filter(|t| !t.is_empty()),
        action: params.action.as_deref().filter(|a| !a.is_empty()),
        hidden_types: if auth.role < Role::Admin {
            ADMIN_ONLY
        } else {
            &[]
        },
    };
    let (rows, total) = audit_log::list(&state.db, &filter, page, per_page).await?;
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
