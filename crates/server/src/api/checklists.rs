//! Checklist templates: `/api/v1/checklists`. Imported from Markdown (PRODUCT.md §2), read
//! as JSON or Markdown, replaced by a new version, archived. Admins manage them, everyone reads.

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

/// A checklist in lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistSummary {
    pub id: Uuid,
    pub name: String,
    /// Shipped with preflight; read-only (import a copy to adapt it).
    pub builtin: bool,
    /// Template version; every replacement adds one. Also the ETag (`"v<version>"`).
    pub version: i32,
    pub item_count: i32,
    pub archived: bool,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One section and its groups.
#[derive(Debug, Serialize, ToSchema)]
pub struct SectionView {
    pub title: String,
    pub groups: Vec<String>,
}

/// One template item.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateItemView {
    /// Stable key (slug of section, group and text); use it URL-encoded in item paths.
    pub key: String,
    pub text: String,
    pub section: Option<String>,
    pub group: Option<String>,
    pub optional: bool,
    pub parent: Option<String>,
    pub depth: u32,
    /// 1-based line in the document.
    pub line: usize,
    /// Automated check (JSON tagged by `kind`).
    #[schema(value_type = Option<Object>)]
    pub check: Option<CheckSpec>,
    /// The check as written in an annotation (`KIND key=value ...`).
    pub check_definition: Option<String>,
    pub re_attest_days: Option<u32>,
    pub requires_comment: bool,
}

/// A checklist with its structure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistView {
    #[serde(flatten)]
    pub summary: ChecklistSummary,
    pub title: Option<String>,
    pub sections: Vec<SectionView>,
    pub items: Vec<TemplateItemView>,
}

impl From<&checklist::Model> for ChecklistSummary {
    fn from(m: &checklist::Model) -> Self {
        Self {
            id: m.id,
            name: m.name.clone(),
            builtin: m.builtin,
            version: m.version,
            item_count: m.item_count,
            archived: m.archived_at.is_some(),
            created_by: m.created_by.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

pub fn item_views(doc: &Checklist) -> Vec<TemplateItemView> {
    doc.items
        .iter()
        .map(|i| TemplateItemView {
            key: i.key.clone(),
            text: i.text.clone(),
            section: i.section.clone(),
            group: i.group.clone(),
            optional: i.optional,
            parent: i.parent.clone(),
            depth: i.depth,
            line: i.line,
            check_definition: i.check.as_ref().map(CheckSpec::to_definition),
            check: i.check.clone(),
            re_attest_days: i.re_attest_days,
            requires_comment: i.requires_comment,
        })
        .collect()
}

pub fn document_of(m: &checklist::Model) -> ApiResult<Checklist> {
    serde_json::from_value(m.document.clone())
        .map_err(|e| ApiError::internal(format!("stored checklist {} does not decode: {e}", m.id)))
}

fn view(m: &checklist::Model) -> ApiResult<ChecklistView> {
    let doc = document_of(m)?;
    Ok(ChecklistView {
        summary: m.into(),
        title: doc.title.clone(),
        sections: doc
            .sections
            .iter()
            .map(|s| SectionView {
                title: s.title.clone(),
                groups: s.groups.clone(),
            })
            .collect(),
        items: item_views(&doc),
    })
}

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

/// Body of `PUT .../items/{key}/check`: a check as JSON, or as an annotation definition.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckUpdate {
    /// The check as JSON tagged by `kind` (e.g. `{"kind": "health"}`); `null` removes it.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub check: Option<serde_json::Value>,
    /// Alternatively, the check as written in an annotation: `rate_limit path=/login burst=50`.
    #[serde(default)]
    pub definition: Option<String>,
}

impl CheckUpdate {
    /// The validated check (`None` removes it); 422 naming the problem otherwise.
    pub fn resolve(self) -> ApiResult<Option<CheckSpec>> {
        match (self.check, self.definition) {
            (Some(_), Some(_)) => Err(ApiError::validation("give either check or definition")),
            (None, Some(def)) => CheckSpec::from_definition(&def).map(Some).map_err(|e| {
                ApiError::validation("invalid check").field("definition", e.to_string())
            }),
            (Some(serde_json::Value::Null) | None, None) => Ok(None),
            (Some(value), None) => serde_json::from_value::<CheckSpec>(value)
                .map(Some)
                .map_err(|e| ApiError::validation("invalid check").field("check", e.to_string())),
        }
    }
}

#[utoipa::path(put, path = "/api/v1/checklists/{id}/items/{key}/check", tag = "checklists", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Checklist id"),
        ("key" = String, Path, description = "Item key, URL-encoded (`/` as `%2F`)"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    request_body = CheckUpdate,
    responses((status = 200, description = "New template version with the check changed", body = ChecklistView),
        (status = 403, description = "Not an admin", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such checklist or item", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid check", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn put_item_check(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, key)): Path<(Uuid, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CheckUpdate>,
) -> ApiResult<Response> {
    auth.require_write(Role::Admin)?;
    let current = find(&state.db, id).await?;
    check_if_match(&headers, current.version)?;
    refuse_builtin(&current)?;
    let check = body.resolve()?;
    let mut doc = document_of(&current)?;
    let item = doc
        .item_mut(&key)
        .ok_or_else(|| ApiError::not_found(format!("checklist {id} has no item {key:?}")))?;
    let before = item.check.as_ref().map(CheckSpec::to_definition);
    item.check = check;
    let after = item.check.as_ref().map(CheckSpec::to_definition);
    // The stored source follows the document, so a later export shows the new annotation.
    let source = to_markdown(&doc);
    let updated = replace(
        &state,
        &auth.actor(),
        &current,
        NewVersion {
            name: current.name.clone(),
            source,
            doc: &doc,
            action: "checklist.item_check",
            comment: Some(format!("{key}: {before:?} -> {after:?}")),
        },
    )
    .await?;
    Ok(json_with_etag(
        StatusCode::OK,
        updated.version,
        view(&updated)?,
    ))
}

/// Makes sure the built-in template exists and matches this binary's text. Idempotent and
/// safe with several replicas starting at once (the unique name index lets one insert win).
pub async fn seed_builtin(db: &DatabaseConnection) -> anyhow::Result<()> {
    let doc = parse_checklist(PRODUCTION_READINESS)
        .map_err(|e| anyhow::anyhow!("the built-in template does not import: {e}"))?;
    let existing = checklist::Entity::find()
        .filter(checklist::Column::Builtin.eq(true))
        .filter(checklist::Column::ArchivedAt.is_null())
        .one(db)
        .await?;
    let actor = Actor::system();
    match existing {
        Some(m) if m.source == PRODUCTION_READINESS => Ok(()),
        Some(m) => {
            // A newer binary ships new wording: a new version; existing reviews keep theirs.
            let txn = db.begin().await?;
            let result = checklist::Entity::update_many()
                .col_expr(checklist::Column::Source, Expr::value(PRODUCTION_READINESS))
                .col_expr(
                    checklist::Column::Document,
                    Expr::value(serde_json::to_value(&doc)?),
                )
                .col_expr(checklist::Column::ItemCount, Expr::value(item_count(&doc)))
                .col_expr(checklist::Column::Version, Expr::value(m.version + 1))
                .col_expr(checklist::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(checklist::Column::Id.eq(m.id))
                .filter(checklist::Column::Version.eq(m.version))
                .exec(&txn)
                .await?;
            if result.rows_affected == 1 {
                audit::record(
                    &txn,
                    &actor,
                    audit::Entry {
                        action: "checklist.update",
                        target_type: "checklist",
                        target_id: m.id.to_string(),
                        before: Some(serde_json::json!({"version": m.version})),
                        after: Some(serde_json::json!({"version": m.version + 1})),
                        comment: Some("built-in template updated by a new release".into()),
                    },
                )
                .await?;
            }
            txn.commit().await?;
            Ok(())
        }
        None => {
            let txn = db.begin().await?;
            let taken = checklist::Entity::find()
                .filter(checklist::Column::Name.eq(BUILTIN_NAME))
                .filter(checklist::Column::ArchivedAt.is_null())
                .one(&txn)
                .await?
                .is_some();
            // Someone imported their own "Production readiness" first: keep theirs.
            let name = if taken {
                format!("{BUILTIN_NAME} (built-in)")
            } else {
                BUILTIN_NAME.to_owned()
            };
            match insert(
                &txn,
                &actor,
                name,
                true,
                PRODUCTION_READINESS.to_owned(),
                &doc,
            )
            .await
            {
                Ok(_) => {
                    txn.commit().await?;
                    tracing::info!("installed the built-in checklist template");
                    Ok(())
                }
                // Another replica inserted it at the same moment.
                Err(e) if e.status == StatusCode::CONFLICT => Ok(()),
                Err(e) => Err(anyhow::anyhow!(
                    "installing the built-in template: {}",
                    e.detail.unwrap_or_default()
                )),
            }
        }
    }
}
