//! Checklist templates: `/api/v1/checklists`. Imported from Markdown, read
//! as JSON or Markdown, replaced by a new version, archived. Admins manage them, everyone reads.

mod item_check;
mod markdown_cache;

pub use markdown_cache::forget as forget_markdown;
mod views;

pub use item_check::{__path_put_item_check, CheckUpdate, MAX_DEFINITION, put_item_check};
pub use views::*;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use preflight_domain::{CheckSpec, Checklist, parse_checklist, to_markdown};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::etag::check_if_match;
use super::support::{
    FormatParam, import_problem, json_with_etag, markdown_body, markdown_response, wants_markdown,
};
use crate::auth::{AuthUser, Role};
use crate::db::entities::checklist;
use crate::docs::problems;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::http::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::store::checklists::{self, NewChecklist, NewVersion, document_of};
use crate::write::Write;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1-based page number (default 1, at most 1000000).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u64>,
    /// Items per page (default 50, at most 200).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u64>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Include archived templates (default false).
    pub include_archived: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Name of the template, at most 200 characters, not blank, no control characters;
    /// default: the document's `# Title`.
    #[param(
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
}

/// Longest template name, in characters (also in the document, held to it by routes_tests.rs).
pub const MAX_NAME: usize = 200;

/// The request body example of an import: a document that imports.
fn import_example() -> serde_json::Value {
    serde_json::Value::from(
        "# Example service\n\n## Operations\n\n- [ ] Runbooks are linked from every alert\n\
         - [ ] Liveness and readiness endpoints answer <!-- check: health -->\n",
    )
}

/// The request body example of a new version: without a `# Title` the name stays.
fn update_example() -> serde_json::Value {
    serde_json::Value::from(
        "## Operations\n\n- [ ] Runbooks are linked from every alert\n\
         - [ ] Dashboards show the golden signals\n",
    )
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
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::validation("invalid checklist name").field(
            "name",
            format!("at most {MAX_NAME} characters, no control characters"),
        ));
    }
    Ok(name.to_owned())
}

/// How many imports are parsed at once. Parsing is CPU work: on the blocking pool it cannot
/// stall the async workers (health checks, other requests), and the bound keeps a burst of
/// large imports from taking every core; the rest wait, within the request timeout.
static PARSING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

async fn parse(source: String) -> ApiResult<Checklist> {
    let _permit = PARSING.acquire().await.map_err(ApiError::internal)?;
    let parsed = tokio::task::spawn_blocking(move || parse_checklist(&source))
        .await
        .map_err(ApiError::internal)?;
    parsed.map_err(|e| import_problem(&e))
}

/// `/checklists`, `/checklists/{id}` and an item's check.
/// Each handler is routed together with its `#[utoipa::path]` operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(put_item_check))
}

#[utoipa::path(get, path = "/checklists", operation_id = "list_checklists", tag = "checklists", security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "Templates by name", body = Page<ChecklistSummary>),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 422, response = problems::ValidationFailed)))]
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
    let filter = checklists::Filter {
        name: params
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty()),
        include_archived: params.include_archived.unwrap_or(false),
    };
    let (items, total) = checklists::list(&state.db, &filter, page, per_page).await?;
    Ok(axum::Json(Page {
        items: items.iter().map(Into::into).collect(),
        page,
        per_page,
        total,
    }))
}

#[utoipa::path(post, path = "/checklists", operation_id = "import_checklist", tag = "checklists", security(("bearer" = [])),
    params(ImportParams),
    request_body(content = String, content_type = "text/markdown", description = "A Markdown task list", example = import_example),
    responses((status = 201, description = "Imported; `id` names the new template", body = ChecklistView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 409, response = problems::Conflict),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::ValidationFailed)))]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ImportParams>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    auth.require_write(Role::Admin)?;
    let source = markdown_body(&headers, &body)?;
    let created = import(&state, &auth, params.name.as_deref(), source).await?;
    let mut res = json_with_etag(StatusCode::CREATED, created.version, view(&created)?);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/checklists/{}", created.id)) {
        res.headers_mut().insert(header::LOCATION, location);
    }
    Ok(res)
}

/// Imports a Markdown checklist as a new template (the API and the web page), named `name`
/// or by the document's title.
pub async fn import(
    state: &AppState,
    auth: &AuthUser,
    name: Option<&str>,
    source: String,
) -> ApiResult<checklist::Model> {
    auth.require_write(Role::Admin)?;
    let doc = parse(source.clone()).await?;
    let name = resolve_name(name, &doc, None)?;
    let actor = auth.actor();
    let new = NewChecklist {
        name,
        builtin: false,
        source,
        doc: &doc,
        created_by: Some(actor.label.clone()),
    };
    let write = Write::begin(&state.db, actor).await?;
    let change = checklists::insert(write.txn(), new).await?;
    Ok(write.commit(change).await?)
}

#[utoipa::path(get, path = "/checklists/{id}", operation_id = "get_checklist", tag = "checklists", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Checklist id"), FormatParam),
    // One 200 with both media types: two `status = 200` entries would keep only the last.
    responses((status = 200, description = "The template as JSON, or the Markdown document with `Accept: text/markdown` or `?format=markdown`",
            content((ChecklistView = "application/json"), (String = "text/markdown"))),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 404, response = problems::NotFound)))]
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    Query(format): Query<FormatParam>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    auth.require_role(Role::Viewer)?;
    if wants_markdown(&headers, format.format) {
        let (version, text) = markdown_cache::get(&state, id).await?;
        return Ok(markdown_response(text, Some(version)));
    }
    let m = checklists::find(&state.db, id).await?;
    Ok(json_with_etag(StatusCode::OK, m.version, view(&m)?))
}

#[utoipa::path(put, path = "/checklists/{id}", operation_id = "update_checklist", tag = "checklists", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Checklist id"), ImportParams,
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    request_body(content = String, content_type = "text/markdown", description = "The new version of the document", example = update_example),
    responses((status = 200, description = "New version stored; existing reviews keep their copy", body = ChecklistView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::ValidationFailed)))]
pub async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    Query(params): Query<ImportParams>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    auth.require_write(Role::Admin)?;
    let current = checklists::find(&state.db, id).await?;
    check_if_match(&headers, current.version)?;
    refuse_builtin(&current)?;
    let source = markdown_body(&headers, &body)?;
    let doc = parse(source.clone()).await?;
    let name = resolve_name(params.name.as_deref(), &doc, Some(&current.name))?;
    let next = NewVersion {
        name,
        source,
        doc: &doc,
        action: "checklist.update",
        comment: None,
    };
    let write = Write::begin(&state.db, auth.actor()).await?;
    let change = checklists::replace(write.txn(), &current, next).await?;
    let updated = write.commit(change).await?;
    markdown_cache::forget(&state, id).await;
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

#[utoipa::path(delete, path = "/checklists/{id}", operation_id = "delete_checklist", tag = "checklists", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Checklist id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    responses((status = 204, description = "Archived; reviews made from it are kept"),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    auth.require_write(Role::Admin)?;
    let current = checklists::find(&state.db, id).await?;
    check_if_match(&headers, current.version)?;
    refuse_builtin(&current)?;
    let write = Write::begin(&state.db, auth.actor()).await?;
    let change = checklists::archive(write.txn(), &current).await?;
    write.commit(change).await?;
    markdown_cache::forget(&state, id).await;
    Ok(StatusCode::NO_CONTENT)
}
