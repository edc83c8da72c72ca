//! Checklist templates: `/api/v1/checklists`. Imported from Markdown (PRODUCT.md §2), read
//! as JSON or Markdown, replaced by a new version, archived. Admins manage them, everyone reads.

mod builtin;
mod item_check;
mod views;

pub use builtin::seed_builtin;
pub use item_check::{__path_put_item_check, CheckUpdate, put_item_check};
pub use views::*;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use preflight_domain::{CheckSpec, Checklist, PRODUCTION_READINESS, parse_checklist, to_markdown};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::etag::check_if_match;
use super::support::{
    FormatParam, import_problem, json_with_etag, markdown_body, markdown_response, wants_markdown,
};
use crate::auth::{AuthUser, Role};
use crate::db::audit::{self, Actor};
use crate::db::entities::checklist;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::http::pagination::{Page, PageParams};
use crate::state::AppState;

/// Name of the built-in template.
pub const BUILTIN_NAME: &str = "Production readiness";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Include archived templates (default false).
    pub include_archived: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Name of the template; default: the document's `# Title`.
    pub name: Option<String>,
}

fn resolve_name(given: Option<&str>, doc: &Checklist, fallback: Option<&str>) -> ApiResult<String> {
    let name = given
        .or(doc.title.as_deref())
        .or(fallback)
        .map(str::trim)
        .unwrap_or("");
    if name.is_empty() {
        return Err(ApiError::validation("the checklist needs a name")
            .field("name", "give the document a `# Title` or pass ?name="));
    }
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::validation("invalid checklist name")
            .field("name", "at most 200 characters, no control characters"));
    }
    Ok(name.to_owned())
}

async fn name_taken<C: ConnectionTrait>(db: &C, name: &str, except: Option<Uuid>) -> ApiResult<()> {
    let mut q = checklist::Entity::find()
        .filter(checklist::Column::Name.eq(name))
        .filter(checklist::Column::ArchivedAt.is_null());
    if let Some(id) = except {
        q = q.filter(checklist::Column::Id.ne(id));
    }
    if q.one(db).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "a checklist named {name:?} already exists"
        )));
    }
    Ok(())
}

fn parse(source: &str) -> ApiResult<Checklist> {
    parse_checklist(source).map_err(|e| import_problem(&e))
}

fn doc_json(doc: &Checklist) -> ApiResult<serde_json::Value> {
    serde_json::to_value(doc).map_err(ApiError::internal)
}

fn item_count(doc: &Checklist) -> i32 {
    i32::try_from(doc.items.len()).unwrap_or(i32::MAX)
}

#[utoipa::path(get, path = "/api/v1/checklists", tag = "checklists", security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "Templates by name", body = Page<ChecklistSummary>)))]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ListParams>,
) -> ApiResult<axum::Json<Page<ChecklistSummary>>> {
    auth.require_role(Role::Viewer)?;
    let (page, per_page) = PageParams {
        page: params.page,
        per_page: params.per_page,
    }
    .resolve()?;
    let mut q = checklist::Entity::find().order_by_asc(checklist::Column::Name);
    if !params.include_archived.unwrap_or(false) {
        q = q.filter(checklist::Column::ArchivedAt.is_null());
    }
    if let Some(name) = params
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        q = q.filter(
            Expr::expr(Func::lower(Expr::col(checklist::Column::Name))).like(
                LikeExpr::new(format!("%{}%", like_escape(&name.to_lowercase()))).escape('\\'),
            ),
        );
    }
    let paginator = q.paginate(&state.db, per_page);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page - 1).await?;
    Ok(axum::Json(Page {
        items: items.iter().map(Into::into).collect(),
        page,
        per_page,
        total,
    }))
}

/// Escapes LIKE wildcards so a filter matches literally.
pub fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[utoipa::path(post, path = "/api/v1/checklists", tag = "checklists", security(("bearer" = [])),
    params(ImportParams),
    request_body(content = String, content_type = "text/markdown", description = "A Markdown task list"),
    responses((status = 201, description = "Imported; `id` names the new template", body = ChecklistView),
        (status = 400, description = "Not UTF-8", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name already taken", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 512 KiB", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not text/markdown", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "No task item, or a bad annotation (the line is named)", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ImportParams>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    auth.require_write(Role::Admin)?;
    let source = markdown_body(&headers, &body)?;
    let doc = parse(&source)?;
    let name = resolve_name(params.name.as_deref(), &doc, None)?;
    let txn = state.db.begin().await?;
    name_taken(&txn, &name, None).await?;
    let created = insert(&txn, &auth.actor(), name, false, source, &doc).await?;
    txn.commit().await?;
    let mut res = json_with_etag(StatusCode::CREATED, created.version, view(&created)?);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/checklists/{}", created.id)) {
        res.headers_mut().insert(header::LOCATION, location);
    }
    Ok(res)
}

async fn insert<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    name: String,
    builtin: bool,
    source: String,
    doc: &Checklist,
) -> ApiResult<checklist::Model> {
    let now = Utc::now();
    let created = checklist::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        builtin: Set(builtin),
        version: Set(1),
        source: Set(source),
        document: Set(doc_json(doc)?),
        item_count: Set(item_count(doc)),
        created_by: Set(Some(actor.label.clone())),
        created_at: Set(now),
        updated_at: Set(now),
        archived_at: Set(None),
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        actor,
        audit::Entry {
            action: "checklist.create",
            target_type: "checklist",
            target_id: created.id.to_string(),
            before: None,
            after: Some(serde_json::json!({"name": created.name, "version": 1, "items": created.item_count, "builtin": builtin})),
            comment: None,
        },
    )
    .await?;
    Ok(created)
}

async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> ApiResult<checklist::Model> {
    checklist::Entity::find_by_id(id)
        .filter(checklist::Column::ArchivedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no checklist {id}")))
}

#[utoipa::path(get, path = "/api/v1/checklists/{id}", tag = "checklists", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Checklist id"), FormatParam),
    responses((status = 200, description = "The template as JSON, or as Markdown with `Accept: text/markdown`",
            body = ChecklistView, content_type = "application/json"),
        (status = 200, description = "The Markdown document", body = String, content_type = "text/markdown"),
        (status = 404, description = "No such checklist", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    Query(format): Query<FormatParam>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    auth.require_role(Role::Viewer)?;
    let m = find(&state.db, id).await?;
    if wants_markdown(&headers, format.format) {
        return Ok(markdown_response(
            to_markdown(&document_of(&m)?),
            Some(m.version),
        ));
    }
    Ok(json_with_etag(StatusCode::OK, m.version, view(&m)?))
}

/// What a new version of a template consists of.
struct NewVersion<'a> {
    name: String,
    source: String,
    doc: &'a Checklist,
    action: &'static str,
    comment: Option<String>,
}

/// Stores a new version of a template (compare-and-set on the version) and audits it.
async fn replace(
    state: &AppState,
    actor: &Actor,
    current: &checklist::Model,
    next_version: NewVersion<'_>,
) -> ApiResult<checklist::Model> {
    let NewVersion {
        name,
        source,
        doc,
        action,
        comment,
    } = next_version;
    let txn = state.db.begin().await?;
    name_taken(&txn, &name, Some(current.id)).await?;
    let next = current.version + 1;
    let result = checklist::Entity::update_many()
        .col_expr(checklist::Column::Name, Expr::value(name.clone()))
        .col_expr(checklist::Column::Source, Expr::value(source))
        .col_expr(checklist::Column::Document, Expr::value(doc_json(doc)?))
        .col_expr(checklist::Column::ItemCount, Expr::value(item_count(doc)))
        .col_expr(checklist::Column::Version, Expr::value(next))
        .col_expr(checklist::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(checklist::Column::Id.eq(current.id))
        .filter(checklist::Column::Version.eq(current.version))
        .filter(checklist::Column::ArchivedAt.is_null())
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(ApiError::conflict(
            "the checklist was changed concurrently; fetch it again",
        ));
    }
    audit::record(
        &txn,
        actor,
        audit::Entry {
            action,
            target_type: "checklist",
            target_id: current.id.to_string(),
            before: Some(serde_json::json!({"name": current.name, "version": current.version, "items": current.item_count})),
            after: Some(serde_json::json!({"name": name, "version": next, "items": item_count(doc)})),
            comment,
        },
    )
    .await?;
    let updated = find(&txn, current.id).await?;
    txn.commit().await?;
    Ok(updated)
}

#[utoipa::path(put, path = "/api/v1/checklists/{id}", tag = "checklists", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Checklist id"), ImportParams,
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    request_body(content = String, content_type = "text/markdown", description = "The new version of the document"),
    responses((status = 200, description = "New version stored; existing reviews keep their copy", body = ChecklistView),
        (status = 403, description = "Not an admin", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such checklist", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Built-in, name taken or concurrent change", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid document", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    Query(params): Query<ImportParams>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    auth.require_write(Role::Admin)?;
    let current = find(&state.db, id).await?;
    check_if_match(&headers, current.version)?;
    refuse_builtin(&current)?;
    let source = markdown_body(&headers, &body)?;
    let doc = parse(&source)?;
    let name = resolve_name(params.name.as_deref(), &doc, Some(&current.name))?;
    let updated = replace(
        &state,
        &auth.actor(),
        &current,
        NewVersion {
            name,
            source,
            doc: &doc,
            action: "checklist.update",
            comment: None,
        },
    )
    .await?;
    Ok(json_with_etag(
        StatusCode::OK,
        updated.version,
        view(&updated)?,
    ))
}

fn refuse_builtin(m: &checklist::Model) -> ApiResult<()> {
    if m.builtin {
        return Err(ApiError::conflict(
            "the built-in template is read-only; import a copy (GET it as text/markdown, POST it under another name) to adapt it",
        ));
    }
    Ok(())
}

#[utoipa::path(delete, path = "/api/v1/checklists/{id}", tag = "checklists", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Checklist id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    responses((status = 204, description = "Archived; reviews made from it are kept"),
        (status = 403, description = "Not an admin", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such checklist", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The built-in template", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    auth.require_write(Role::Admin)?;
    let current = find(&state.db, id).await?;
    check_if_match(&headers, current.version)?;
    refuse_builtin(&current)?;
    let txn = state.db.begin().await?;
    let result = checklist::Entity::update_many()
        .col_expr(checklist::Column::ArchivedAt, Expr::value(Utc::now()))
        .filter(checklist::Column::Id.eq(id))
        .filter(checklist::Column::Version.eq(current.version))
        .filter(checklist::Column::ArchivedAt.is_null())
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(ApiError::conflict(
            "the checklist was changed concurrently; fetch it again",
        ));
    }
    audit::record(
        &txn,
        &auth.actor(),
        audit::Entry {
            action: "checklist.archive",
            target_type: "checklist",
            target_id: id.to_string(),
            before: Some(serde_json::json!({"name": current.name, "version": current.version})),
            after: None,
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
