//! Services: `/api/v1/services`. Editors register and change them; deletion is soft and
//! audited. Contacts and credentials are encrypted at rest (see [`super::service_fields`]).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query as SqlQuery};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::checklists::like_escape;
use super::etag::check_if_match;
use super::service_fields::{
    Contact, CredentialsInput, CredentialsView, credentials_view, double_option, open_contacts,
    seal_contacts, seal_credentials, validate_base_url, validate_contacts, validate_credentials,
    validate_environment, validate_name, validate_owners,
};
use super::support::json_with_etag;
use crate::auth::{AuthUser, Role};
use crate::db::audit;
use crate::db::entities::{service, service_owner};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::http::pagination::Page;
use crate::readiness_cache;
use crate::state::AppState;

/// A service as the API shows it: contacts decrypted, credentials masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    pub id: Uuid,
    pub name: String,
    pub environment: String,
    pub base_url: Option<String>,
    pub description: Option<String>,
    pub owners: Vec<String>,
    /// Incident contacts; `null` when they cannot be decrypted with the configured keys.
    pub contacts: Option<Vec<Contact>>,
    pub credentials: CredentialsView,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateService {
    pub name: String,
    /// production (default), staging, …
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// Write-only; reads show only which headers are configured.
    #[serde(default)]
    pub credentials: Option<CredentialsInput>,
}

/// Absent fields stay as they are; `null` clears an optional field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateService {
    pub name: Option<String>,
    pub environment: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub base_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub owners: Option<Vec<String>>,
    pub contacts: Option<Vec<Contact>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<CredentialsInput>)]
    pub credentials: Option<Option<CredentialsInput>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Exact environment.
    pub environment: Option<String>,
    /// Exact owner.
    pub owner: Option<String>,
}

async fn owners_of<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, Vec<String>>> {
    let mut out: HashMap<Uuid, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = service_owner::Entity::find()
        .filter(service_owner::Column::ServiceId.is_in(ids.iter().copied()))
        .order_by_asc(service_owner::Column::Owner)
        .all(db)
        .await?;
    for r in rows {
        out.entry(r.service_id).or_default().push(r.owner);
    }
    Ok(out)
}

fn view(state: &AppState, m: service::Model, owners: Vec<String>) -> ServiceView {
    ServiceView {
        contacts: open_contacts(state, m.id, m.contacts.as_deref()),
        credentials: credentials_view(m.credentials.as_deref(), m.credential_headers.as_ref()),
        id: m.id,
        name: m.name,
        environment: m.environment,
        base_url: m.base_url,
        description: m.description,
        owners,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> ApiResult<service::Model> {
    service::Entity::find_by_id(id)
        .filter(service::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no service {id}")))
}

async fn name_taken<C: ConnectionTrait>(db: &C, name: &str, except: Option<Uuid>) -> ApiResult<()> {
    let mut q = service::Entity::find()
        .filter(service::Column::Name.eq(name))
        .filter(service::Column::DeletedAt.is_null());
    if let Some(id) = except {
        q = q.filter(service::Column::Id.ne(id));
    }
    if q.one(db).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "a service named {name:?} already exists"
        )));
    }
    Ok(())
}

async fn set_owners<C: ConnectionTrait>(db: &C, id: Uuid, owners: &[String]) -> ApiResult<()> {
    service_owner::Entity::delete_many()
        .filter(service_owner::Column::ServiceId.eq(id))
        .exec(db)
        .await?;
    if owners.is_empty() {
        return Ok(());
    }
    let rows = owners.iter().map(|o| service_owner::ActiveModel {
        id: Set(Uuid::now_v7()),
        service_id: Set(id),
        owner: Set(o.clone()),
    });
    service_owner::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

/// What the audit log records about a service: never contact details or credential values.
fn audit_shape(m: &service::Model, owners: &[String]) -> serde_json::Value {
    serde_json::json!({
        "name": m.name, "environment": m.environment, "base_url": m.base_url,
        "owners": owners, "contacts_configured": m.contacts.is_some(),
        "credentials_configured": m.credentials.is_some(),
        "credential_headers": m.credential_headers, "version": m.version,
    })
}

#[utoipa::path(get, path = "/api/v1/services", tag = "services", security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "Services by name", body = Page<ServiceView>)))]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<Page<ServiceView>>> {
    auth.require_role(Role::Viewer)?;
    let (page, per_page) = crate::http::pagination::PageParams {
        page: params.page,
        per_page: params.per_page,
    }
    .resolve()?;
    let mut q = service::Entity::find()
        .filter(service::Column::DeletedAt.is_null())
        .order_by_asc(service::Column::Name);
    if let Some(name) = params
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        q = q.filter(
            Expr::expr(Func::lower(Expr::col(service::Column::Name))).like(
                LikeExpr::new(format!("%{}%", like_escape(&name.to_lowercase()))).escape('\\'),
            ),
        );
    }
    if let Some(env) = params
        .environment
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        q = q.filter(service::Column::Environment.eq(env.to_lowercase()));
    }
    if let Some(owner) = params
        .owner
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        q = q.filter(
            service::Column::Id.in_subquery(
                SqlQuery::select()
                    .column(service_owner::Column::ServiceId)
                    .from(service_owner::Entity)
                    .and_where(Expr::col(service_owner::Column::Owner).eq(owner))
                    .to_owned(),
            ),
        );
    }
    let paginator = q.paginate(&state.db, per_page);
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page - 1).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut owners = owners_of(&state.db, &ids).await?;
    let items = rows
        .into_iter()
        .map(|m| {
            let o = owners.remove(&m.id).unwrap_or_default();
            view(&state, m, o)
        })
        .collect();
    Ok(Json(Page {
        items,
        page,
        per_page,
        total,
    }))
}

#[utoipa::path(post, path = "/api/v1/services", tag = "services", security(("bearer" = [])),
    request_body = CreateService,
    responses((status = 201, description = "Registered", body = ServiceView),
        (status = 403, description = "Viewers cannot register services", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name already taken", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<CreateService>,
) -> ApiResult<Response> {
    auth.require_write(Role::Editor)?;
    let name = validate_name(&body.name)?;
    let environment = validate_environment(body.environment.as_deref().unwrap_or("production"))?;
    let base_url = validate_base_url(body.base_url)?;
    let owners = validate_owners(body.owners)?;
    let contacts = validate_contacts(body.contacts)?;
    if let Some(c) = &body.credentials {
        validate_credentials(c)?;
    }
    let id = Uuid::now_v7();
    let sealed_contacts = seal_contacts(&state, id, &contacts)?;
    let (sealed_creds, header_names) = match &body.credentials {
        Some(c) => {
            let (s, n) = seal_credentials(&state, id, c)?;
            (Some(s), Some(n))
        }
        None => (None, None),
    };
    let now = Utc::now();
    let txn = state.db.begin().await?;
    name_taken(&txn, &name, None).await?;
    let created = service::ActiveModel {
        id: Set(id),
        name: Set(name),
        environment: Set(environment),
        base_url: Set(base_url),
        description: Set(body
            .description
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())),
        contacts: Set(sealed_contacts),
        credentials: Set(sealed_creds),
        credential_headers: Set(header_names),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(&txn)
    .await?;
    set_owners(&txn, id, &owners).await?;
    audit::record(
        &txn,
        &auth.actor(),
        audit::Entry {
            action: "service.create",
            target_type: "service",
            target_id: id.to_string(),
            before: None,
            after: Some(audit_shape(&created, &owners)),
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    readiness_cache::after_write(&state, Some(id)).await;
    let version = created.version;
    let mut res = json_with_etag(StatusCode::CREATED, version, view(&state, created, owners));
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/services/{id}")) {
        res.headers_mut().insert(header::LOCATION, location);
    }
    Ok(res)
}

#[utoipa::path(get, path = "/api/v1/services/{id}", tag = "services", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id")),
    responses((status = 200, description = "The service; ETag carries its version", body = ServiceView),
        (status = 404, description = "No such service", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    auth.require_role(Role::Viewer)?;
    let m = find(&state.db, id).await?;
    let owners = owners_of(&state.db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(json_with_etag(
        StatusCode::OK,
        m.version,
        view(&state, m, owners),
    ))
}

#[utoipa::path(patch, path = "/api/v1/services/{id}", tag = "services", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    request_body = UpdateService,
    responses((status = 200, description = "Updated", body = ServiceView),
        (status = 403, description = "Viewers cannot change services", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken or concurrent update", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UpdateService>,
) -> ApiResult<Response> {
    auth.require_write(Role::Editor)?;
    let current = find(&state.db, id).await?;
    check_if_match(&headers, current.version)?;
    let current_owners = owners_of(&state.db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let mut active: service::ActiveModel = current.clone().into();
    let name = body.name.as_deref().map(validate_name).transpose()?;
    if let Some(n) = &name {
        active.name = Set(n.clone());
    }
    if let Some(env) = &body.environment {
        active.environment = Set(validate_environment(env)?);
    }
    if let Some(url) = body.base_url {
        active.base_url = Set(validate_base_url(url)?);
    }
    if let Some(d) = body.description {
        active.description = Set(d.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()));
    }
    let owners = body.owners.map(validate_owners).transpose()?;
    if let Some(contacts) = body.contacts {
        active.contacts = Set(seal_contacts(&state, id, &validate_contacts(contacts)?)?);
    }
    match body.credentials {
        Some(Some(c)) => {
            validate_credentials(&c)?;
            let (sealed, names) = seal_credentials(&state, id, &c)?;
            active.credentials = Set(Some(sealed));
            active.credential_headers = Set(Some(names));
        }
        Some(None) => {
            active.credentials = Set(None);
            active.credential_headers = Set(None);
        }
        None => {}
    }
    active.version = Set(current.version + 1);
    active.updated_at = Set(Utc::now());
    let txn = state.db.begin().await?;
    if let Some(n) = &name {
        name_taken(&txn, n, Some(id)).await?;
    }
    // Compare-and-set on the version: a concurrent writer makes this touch no row.
    let result = service::Entity::update_many()
        .set(active)
        .filter(service::Column::Id.eq(id))
        .filter(service::Column::Version.eq(current.version))
        .filter(service::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(ApiError::conflict(
            "the service was changed concurrently; fetch it again",
        ));
    }
    if let Some(o) = &owners {
        set_owners(&txn, id, o).await?;
    }
    let updated = find(&txn, id).await?;
    let new_owners = owners.unwrap_or_else(|| current_owners.clone());
    audit::record(
        &txn,
        &auth.actor(),
        audit::Entry {
            action: "service.update",
            target_type: "service",
            target_id: id.to_string(),
            before: Some(audit_shape(&current, &current_owners)),
            after: Some(audit_shape(&updated, &new_owners)),
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    readiness_cache::after_write(&state, Some(id)).await;
    Ok(json_with_etag(
        StatusCode::OK,
        updated.version,
        view(&state, updated, new_owners),
    ))
}

#[utoipa::path(delete, path = "/api/v1/services/{id}", tag = "services", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    responses((status = 204, description = "Deleted (soft: kept for the audit trail, hidden everywhere)"),
        (status = 403, description = "Viewers cannot delete services", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    auth.require_write(Role::Editor)?;
    let current = find(&state.db, id).await?;
    check_if_match(&headers, current.version)?;
    let owners = owners_of(&state.db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let txn = state.db.begin().await?;
    let result = service::Entity::update_many()
        .col_expr(service::Column::DeletedAt, Expr::value(Utc::now()))
        .col_expr(service::Column::Version, Expr::value(current.version + 1))
        .filter(service::Column::Id.eq(id))
        .filter(service::Column::Version.eq(current.version))
        .filter(service::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(ApiError::conflict(
            "the service was changed concurrently; fetch it again",
        ));
    }
    audit::record(
        &txn,
        &auth.actor(),
        audit::Entry {
            action: "service.delete",
            target_type: "service",
            target_id: id.to_string(),
            before: Some(audit_shape(&current, &owners)),
            after: None,
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    readiness_cache::after_write(&state, Some(id)).await;
    Ok(StatusCode::NO_CONTENT)
}
