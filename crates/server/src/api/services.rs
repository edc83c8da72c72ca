//! Services: `/api/v1/services`. Editors register and change them; deletion is soft and
//! audited. Contacts and credentials are encrypted at rest (see [`super::service_fields`]).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::etag::check_if_match;
use super::service_fields::{
    Contact, CredentialsInput, CredentialsView, credentials_view, double_option, open_contacts,
    owners_schema, seal_contacts, seal_credentials, validate_base_url, validate_contacts,
    validate_credentials, validate_description, validate_environment, validate_name,
    validate_owners,
};
use super::service_probe::{
    MonitoringInput, MonitoringView, monitoring_view, open_monitoring_headers, seal_monitoring,
    stored_monitoring, validate_interval,
};
use super::support::json_with_etag;
use crate::auth::{AuthUser, Role};
use crate::db::entities::service;
use crate::docs::problems;
use crate::error::ApiResult;
use crate::http::extract::ApiJson;
use crate::http::pagination::Page;
use crate::state::AppState;
use crate::store::services;
use crate::write::Write;

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
    /// Seconds between scheduled runs of its checks; `null` is the server's `PROBE_INTERVAL`.
    pub probe_interval_seconds: Option<i32>,
    /// Its own monitoring servers (header values never shown).
    pub monitoring: Option<MonitoringView>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// The bounds in the schemas are the validation's (`service_fields`): routes_tests.rs holds
// them to its constants.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "payments-api", "environment": "production",
    "base_url": "https://payments.example.com", "owners": ["team-payments"],
    "contacts": [{"name": "Payments on-call", "email": "payments-oncall@example.com", "role": "primary on-call"}]}))]
pub struct CreateService {
    /// 1 to 200 characters, not blank, no control characters; unique within its environment.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// production (default), staging, …: 1 to 32 of a-z, 0-9, `-` and `_` (upper case is
    /// folded to lower case).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9_-]+$")]
    pub environment: Option<String>,
    /// An `http://` or `https://` URL with a host, at most 2048 characters (the pattern is
    /// the usual form; the server parses the URL).
    #[serde(default)]
    #[schema(
        max_length = 2048,
        pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+([/?#][!-~]*)?$"
    )]
    pub base_url: Option<String>,
    /// At most 4000 characters.
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub description: Option<String>,
    #[serde(default)]
    #[schema(schema_with = owners)]
    pub owners: Vec<String>,
    /// At most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub contacts: Vec<Contact>,
    /// Write-only; reads show only which headers are configured.
    #[serde(default)]
    pub credentials: Option<CredentialsInput>,
    /// 5 to 86400; absent or `null`: the server's `PROBE_INTERVAL`.
    #[serde(default)]
    #[schema(minimum = 5, maximum = 86400)]
    pub probe_interval_seconds: Option<i64>,
    #[serde(default)]
    pub monitoring: Option<MonitoringInput>,
}

/// Absent fields stay as they are; `null` clears an optional field. A new `base_url` drops
/// stored `credentials` unless the same request sends them again. Fields are bounded as in
/// [`CreateService`].
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"description": "Takes card payments", "owners": ["team-payments", "sre"]}))]
pub struct UpdateService {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    #[schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9_-]+$")]
    pub environment: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 2048, pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+([/?#][!-~]*)?$")]
    pub base_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 4000)]
    pub description: Option<Option<String>>,
    #[schema(schema_with = nullable_owners)]
    pub owners: Option<Vec<String>>,
    #[schema(max_items = 50)]
    pub contacts: Option<Vec<Contact>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<CredentialsInput>)]
    pub credentials: Option<Option<CredentialsInput>>,
    /// `null`: back to the server's `PROBE_INTERVAL`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 5, maximum = 86400)]
    pub probe_interval_seconds: Option<Option<i64>>,
    /// Replaces the stored endpoints; `null` removes them all.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<MonitoringInput>)]
    pub monitoring: Option<Option<MonitoringInput>>,
}

fn owners() -> utoipa::openapi::Array {
    owners_schema().build()
}

fn nullable_owners() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{SchemaType, Type};
    owners_schema()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .build()
}

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
    /// Exact environment.
    pub environment: Option<String>,
    /// Exact owner.
    pub owner: Option<String>,
}

fn view(state: &AppState, m: service::Model, owners: Vec<String>) -> ServiceView {
    ServiceView {
        contacts: open_contacts(state, m.id, m.contacts.as_deref()),
        credentials: credentials_view(m.credentials.as_deref(), m.credential_headers.as_ref()),
        probe_interval_seconds: m.probe_interval_s,
        monitoring: monitoring_view(stored_monitoring(m.monitoring.as_ref())),
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

/// `/services` and `/services/{id}`.
/// Each handler is routed together with its `#[utoipa::path]` operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
}

#[utoipa::path(get, path = "/services", operation_id = "list_services", tag = "services", security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "Services by name", body = Page<ServiceView>),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 422, response = problems::ValidationFailed)))]
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
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    let filter = services::Filter {
        name: given(&params.name),
        environment: given(&params.environment),
        owner: given(&params.owner),
    };
    let (rows, total) = services::list(&state.db, &filter, page, per_page).await?;
    let items = rows
        .into_iter()
        .map(|(m, owners)| view(&state, m, owners))
        .collect();
    Ok(Json(Page {
        items,
        page,
        per_page,
        total,
    }))
}

#[utoipa::path(post, path = "/services", operation_id = "create_service", tag = "services", security(("bearer" = [])),
    request_body = CreateService,
    responses((status = 201, description = "Registered", body = ServiceView),
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
    ApiJson(body): ApiJson<CreateService>,
) -> ApiResult<Response> {
    let (created, owners) = register(&state, &auth, body).await?;
    let id = created.id;
    let version = created.version;
    let mut res = json_with_etag(StatusCode::CREATED, version, view(&state, created, owners));
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/services/{id}")) {
        res.headers_mut().insert(header::LOCATION, location);
    }
    Ok(res)
}

/// Registers a service (the API's `POST /services` and the web form): the stored service and
/// its owners.
pub async fn register(
    state: &AppState,
    auth: &AuthUser,
    body: CreateService,
) -> ApiResult<(service::Model, Vec<String>)> {
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
    let new = services::NewService {
        id,
        name,
        environment,
        base_url,
        description: validate_description(body.description)?,
        owners,
        contacts: seal_contacts(state, id, &contacts)?,
        credentials: body
            .credentials
            .as_ref()
            .map(|c| seal_credentials(state, id, c))
            .transpose()?,
        probe_interval_s: validate_interval(body.probe_interval_seconds)?,
        monitoring: body
            .monitoring
            .map(|m| seal_monitoring(state, id, m, None))
            .transpose()?,
    };
    let write = Write::changing_readiness(state, auth.actor(), id).await?;
    let change = services::insert(write.txn(), new).await?;
    Ok(write.commit(change).await?)
}

#[utoipa::path(get, path = "/services/{id}", operation_id = "get_service", tag = "services", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id")),
    responses((status = 200, description = "The service; ETag carries its version", body = ServiceView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 404, response = problems::NotFound)))]
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    auth.require_role(Role::Viewer)?;
    let m = services::find(&state.db, id).await?;
    let owners = services::owners(&state.db, id).await?;
    Ok(json_with_etag(
        StatusCode::OK,
        m.version,
        view(&state, m, owners),
    ))
}

#[utoipa::path(patch, path = "/services/{id}", operation_id = "update_service", tag = "services", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    request_body = UpdateService,
    responses((status = 200, description = "Updated", body = ServiceView),
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
    headers: HeaderMap,
    ApiJson(body): ApiJson<UpdateService>,
) -> ApiResult<Response> {
    auth.require_write(Role::Editor)?;
    let current = services::find(&state.db, id).await?;
    check_if_match(&headers, current.version)?;
    let current_owners = services::owners(&state.db, id).await?;
    // Validated field by field in the order of the body's documentation.
    let name = body.name.as_deref().map(validate_name).transpose()?;
    let environment = body
        .environment
        .as_deref()
        .map(validate_environment)
        .transpose()?;
    let base_url = body.base_url.map(validate_base_url).transpose()?;
    let description = body.description.map(validate_description).transpose()?;
    let owners = body.owners.map(validate_owners).transpose()?;
    let contacts = body
        .contacts
        .map(|c| seal_contacts(&state, id, &validate_contacts(c)?))
        .transpose()?;
    // Credentials were given for one target: a new base_url drops them unless the same
    // request supplies them again, so an editor cannot point them at a host of their choosing.
    let target_changes = base_url
        .as_ref()
        .is_some_and(|url| *url != current.base_url);
    let credentials = match body.credentials {
        Some(Some(c)) => {
            validate_credentials(&c)?;
            Some(Some(seal_credentials(&state, id, &c)?))
        }
        Some(None) => Some(None),
        None if target_changes && current.credentials.is_some() => Some(None),
        None => None,
    };
    let probe_interval_s = body
        .probe_interval_seconds
        .map(validate_interval)
        .transpose()?;
    let monitoring = match body.monitoring {
        Some(Some(m)) => {
            let stored = stored_monitoring(current.monitoring.as_ref()).unwrap_or_default();
            let headers =
                open_monitoring_headers(&state, id, current.monitoring_credentials.as_deref());
            Some(Some(seal_monitoring(
                &state,
                id,
                m,
                Some((&stored, headers)),
            )?))
        }
        Some(None) => Some(None),
        None => None,
    };
    let changes = services::Changes {
        name,
        environment,
        base_url,
        description,
        owners,
        contacts,
        credentials,
        probe_interval_s,
        monitoring,
    };
    let write = Write::changing_readiness(&state, auth.actor(), id).await?;
    let change = services::update(write.txn(), &current, &current_owners, changes).await?;
    let (updated, owners) = write.commit(change).await?;
    Ok(json_with_etag(
        StatusCode::OK,
        updated.version,
        view(&state, updated, owners),
    ))
}

#[utoipa::path(delete, path = "/services/{id}", operation_id = "delete_service", tag = "services", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    responses((status = 204, description = "Deleted (soft: kept for the audit trail, hidden everywhere)"),
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
    auth.require_write(Role::Editor)?;
    let current = services::find(&state.db, id).await?;
    check_if_match(&headers, current.version)?;
    let owners = services::owners(&state.db, id).await?;
    let write = Write::changing_readiness(&state, auth.actor(), id).await?;
    let change = services::delete(write.txn(), &current, &owners).await?;
    write.commit(change).await?;
    Ok(StatusCode::NO_CONTENT)
}
