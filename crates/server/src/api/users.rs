//! User management for admins: `/api/v1/users`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::etag::check_if_match;
use super::support::json_with_etag;
use crate::auth::{AuthUser, Role};
use crate::db::entities::user;
use crate::docs::problems;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::http::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::store::users::{self, NewPassword, NewUser, PasswordError};
use crate::write::Write;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub display_name: Option<String>,
    pub disabled: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<user::Model> for UserView {
    fn from(u: user::Model) -> Self {
        Self {
            id: u.id,
            role: u.role.parse().unwrap_or(Role::Viewer),
            email: u.email,
            display_name: u.display_name,
            disabled: u.disabled,
            version: u.version,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// Longest email address, in characters.
pub const MAX_EMAIL: usize = 320;
/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 200;

// The bounds in the schemas are the validation's: routes_tests.rs holds them to the constants.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@example.com", "password": "Analytical-Engine-1843",
    "role": "editor", "display_name": "Ada Lovelace"}))]
pub struct CreateUser {
    /// An address with a local part and a domain, at most 320 characters; stored in lower case.
    #[schema(min_length = 3, max_length = 320, pattern = r"^[^@\s]+@[^.\s]\S*$")]
    pub email: String,
    /// At least 12 characters and at most 1024 bytes (UTF-8), of at least two character
    /// classes, and not a common password.
    #[schema(format = Password, min_length = 12, max_length = 1024)]
    pub password: String,
    pub role: Role,
    /// At most 200 characters; empty is none.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub display_name: Option<String>,
}

/// Absent fields stay as they are; fields are bounded as in [`CreateUser`].
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "editor", "display_name": "Ada Lovelace"}))]
pub struct UpdateUser {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// Empty removes it.
    #[schema(max_length = 200)]
    pub display_name: Option<String>,
    #[schema(format = Password, min_length = 12, max_length = 1024)]
    pub password: Option<String>,
}

/// A display name trimmed (empty is none), at most [`MAX_DISPLAY_NAME`] characters.
fn display_name(name: Option<String>) -> Result<Option<String>, ApiError> {
    let name = name.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
    if name
        .as_deref()
        .is_some_and(|n| n.chars().count() > MAX_DISPLAY_NAME)
    {
        return Err(ApiError::validation("invalid user").field(
            "display_name",
            format!("at most {MAX_DISPLAY_NAME} characters"),
        ));
    }
    Ok(name)
}

/// Basic address shape check; delivery is not this service's concern.
pub fn validate_email(email: &str) -> Result<String, ApiError> {
    let e = email.trim().to_lowercase();
    let valid = e.chars().count() <= MAX_EMAIL
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.starts_with('.')
                && !e.contains(char::is_whitespace)
        });
    if valid {
        Ok(e)
    } else {
        Err(ApiError::validation("invalid user").field("email", "not a valid email address"))
    }
}

/// Checks and hashes a new password: the same path as `preflight admin reset-password`.
async fn new_password(password: String) -> ApiResult<NewPassword> {
    NewPassword::new(password).await.map_err(|e| match e {
        PasswordError::Weak(why) => ApiError::validation("invalid user").field("password", why),
        PasswordError::Hashing(_) => ApiError::internal(e),
    })
}

fn with_etag(status: StatusCode, u: user::Model) -> Response {
    json_with_etag(status, u.version, UserView::from(u))
}

/// `/users` and `/users/{id}`.
/// Each handler is routed together with its `#[utoipa::path]` operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
}

#[utoipa::path(get, path = "/users", operation_id = "list_users", tag = "users", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "Users, by email", body = Page<UserView>),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 422, response = problems::ValidationFailed)))]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Page<UserView>>> {
    auth.require_role(Role::Admin)?;
    let (page, per_page) = params.resolve()?;
    let (items, total) = users::list(&state.db, page, per_page).await?;
    Ok(Json(Page {
        items: items.into_iter().map(Into::into).collect(),
        page,
        per_page,
        total,
    }))
}

#[utoipa::path(post, path = "/users", operation_id = "create_user", tag = "users", security(("bearer" = [])),
    request_body = CreateUser,
    responses((status = 201, description = "Created", body = UserView),
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
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<Response> {
    let created = add(&state, &auth, body).await?;
    Ok(with_etag(StatusCode::CREATED, created))
}

/// Creates a user (the API and the admin page).
pub async fn add(state: &AppState, auth: &AuthUser, body: CreateUser) -> ApiResult<user::Model> {
    auth.require_admin_session()?;
    let email = validate_email(&body.email)?;
    let display_name = display_name(body.display_name)?;
    let new = NewUser {
        email,
        password: new_password(body.password).await?,
        role: body.role.as_str(),
        display_name,
    };
    let write = Write::begin(&state.db, auth.actor()).await?;
    let change = users::insert(write.txn(), new, "user.create").await?;
    Ok(write.commit(change).await?)
}

#[utoipa::path(get, path = "/users/{id}", operation_id = "get_user", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, description = "The user; ETag carries its version", body = UserView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound)))]
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    auth.require_role(Role::Admin)?;
    Ok(with_etag(StatusCode::OK, users::find(&state.db, id).await?))
}

#[utoipa::path(patch, path = "/users/{id}", operation_id = "update_user", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    request_body = UpdateUser,
    responses((status = 200, description = "Updated", body = UserView),
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
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Response> {
    auth.require_admin_session()?;
    let current = users::find(&state.db, id).await?;
    check_if_match(&headers, current.version)?;
    if id == auth.user_id
        && (body.disabled == Some(true) || body.role.is_some_and(|r| r != Role::Admin))
    {
        return Err(ApiError::conflict("you cannot disable or demote yourself"));
    }
    // Checked before the (slow) password hashing; Some(None) removes the name.
    let name = body
        .display_name
        .map(|n| display_name(Some(n)))
        .transpose()?;
    let password = match body.password {
        Some(p) => Some(new_password(p).await?),
        None => None,
    };
    let changes = users::Changes {
        role: body.role.map(Role::as_str),
        disabled: body.disabled,
        display_name: name,
        password,
    };
    let write = Write::begin(&state.db, auth.actor()).await?;
    let change = users::update(write.txn(), &current, changes).await?;
    let updated = write.commit(change).await?;
    // A new role, disabling or a new password applies to their tokens from the next request.
    crate::auth::standing::forget(&state, id).await;
    Ok(with_etag(StatusCode::OK, updated))
}

#[utoipa::path(delete, path = "/users/{id}", operation_id = "delete_user", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 204, description = "Deleted with their tokens"),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    auth.require_admin_session()?;
    if id == auth.user_id {
        return Err(ApiError::conflict("you cannot delete yourself"));
    }
    let current = users::find(&state.db, id).await?;
    let write = Write::begin(&state.db, auth.actor()).await?;
    let change = users::delete(write.txn(), &current).await?;
    write.commit(change).await?;
    crate::auth::standing::forget(&state, id).await;
    Ok(StatusCode::NO_CONTENT)
}
