//! User management for admins: `/api/v1/users`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::etag::check_if_match;
use super::support::json_with_etag;
use crate::auth::{AuthUser, Role};
use crate::db::audit;
use crate::db::entities::user;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::http::pagination::{Page, PageParams};
use crate::state::AppState;

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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
    pub role: Role,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub display_name: Option<String>,
    #[schema(format = Password)]
    pub password: Option<String>,
}

/// Basic address shape check; delivery is not this service's concern.
pub fn validate_email(email: &str) -> Result<String, ApiError> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 320
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

pub fn validate_password(password: &str) -> Result<(), ApiError> {
    if let Some(why) = preflight_security::is_weak_password(password) {
        return Err(ApiError::validation("invalid user").field("password", why));
    }
    Ok(())
}

async fn hash(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || preflight_security::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

fn with_etag(status: StatusCode, u: user::Model) -> Response {
    json_with_etag(status, u.version, UserView::from(u))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "Users, by email", body = Page<UserView>),
        (status = 403, description = "Not an admin", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Page<UserView>>> {
    auth.require_role(Role::Admin)?;
    let (page, per_page) = params.resolve()?;
    let paginator = user::Entity::find()
        .order_by_asc(user::Column::Email)
        .paginate(&state.db, per_page);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page - 1).await?;
    Ok(Json(Page {
        items: items.into_iter().map(Into::into).collect(),
        page,
        per_page,
        total,
    }))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    request_body = CreateUser,
    responses((status = 201, description = "Created", body = UserView),
        (status = 403, description = "Not an admin", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email already registered", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid email, weak password", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<Response> {
    auth.require_admin_session()?;
    let email = validate_email(&body.email)?;
    validate_password(&body.password)?;
    let password_hash = hash(body.password).await?;
    let txn = state.db.begin().await?;
    if user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(format!(
            "a user with email {email} already exists"
        )));
    }
    let now = Utc::now();
    let created = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email),
        password_hash: Set(password_hash),
        role: Set(body.role.as_str().to_owned()),
        display_name: Set(body
            .display_name
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())),
        disabled: Set(false),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &auth.actor(),
        audit::Entry {
            action: "user.create",
            target_type: "user",
            target_id: created.id.to_string(),
            before: None,
            after: Some(serde_json::json!({"email": created.email, "role": created.role})),
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(with_etag(StatusCode::CREATED, created))
}

async fn find(state: &AppState, id: Uuid) -> ApiResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user {id}")))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, description = "The user; ETag carries its version", body = UserView),
        (status = 404, description = "No such user", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    auth.require_role(Role::Admin)?;
    Ok(with_etag(StatusCode::OK, find(&state, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    request_body = UpdateUser,
    responses((status = 200, description = "Updated", body = UserView),
        (status = 404, description = "No such user", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Concurrent update", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Response> {
    auth.require_admin_session()?;
    let current = find(&state, id).await?;
    check_if_match(&headers, current.version)?;
    if id == auth.user_id
        && (body.disabled == Some(true) || body.role.is_some_and(|r| r != Role::Admin))
    {
        return Err(ApiError::conflict("you cannot disable or demote yourself"));
    }
    let new_hash = match body.password {
        Some(p) => {
            validate_password(&p)?;
            Some(hash(p).await?)
        }
        None => None,
    };
    let before = serde_json::json!({"role": current.role, "disabled": current.disabled});
    let txn = state.db.begin().await?;
    let mut active: user::ActiveModel = current.clone().into();
    if let Some(role) = body.role {
        active.role = Set(role.as_str().to_owned());
    }
    if let Some(d) = body.disabled {
        active.disabled = Set(d);
    }
    if let Some(name) = body.display_name {
        active.display_name = Set(Some(name.trim().to_owned()).filter(|n| !n.is_empty()));
    }
    let password_changed = new_hash.is_some();
    if let Some(h) = new_hash {
        active.password_hash = Set(h);
    }
    active.version = Set(current.version + 1);
    active.updated_at = Set(Utc::now());
    // Compare-and-set on the version: a concurrent writer makes this update touch no row.
    let result = user::Entity::update_many()
        .set(active)
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::Version.eq(current.version))
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(ApiError::conflict(
            "the user was changed concurrently; fetch it again",
        ));
    }
    if password_changed || body.disabled == Some(true) {
        crate::auth::session::revoke_all_for_user(&txn, id).await?;
    }
    let updated = user::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user {id}")))?;
    audit::record(
        &txn,
        &auth.actor(),
        audit::Entry {
            action: "user.update",
            target_type: "user",
            target_id: id.to_string(),
            before: Some(before),
            after: Some(serde_json::json!({"role": updated.role, "disabled": updated.disabled, "password_changed": password_changed})),
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(with_etag(StatusCode::OK, updated))
}

#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 204, description = "Deleted with their tokens"),
        (status = 404, description = "No such user", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Deleting yourself", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    auth.require_admin_session()?;
    if id == auth.user_id {
        return Err(ApiError::conflict("you cannot delete yourself"));
    }
    let current = find(&state, id).await?;
    let txn = state.db.begin().await?;
    user::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        &auth.actor(),
        audit::Entry {
            action: "user.delete",
            target_type: "user",
            target_id: id.to_string(),
            before: Some(serde_json::json!({"email": current.email, "role": current.role})),
            after: None,
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates the bootstrap admin from `ADMIN_EMAIL` / `ADMIN_PASSWORD` when no such user exists.
/// An existing user is left untouched: the environment never silently resets a password.
pub async fn bootstrap_admin(state: &AppState) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    let email = state.settings.admin_email.clone();
    if user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&state.db)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let password = state.settings.admin_password.expose_secret().to_owned();
    let password_hash =
        tokio::task::spawn_blocking(move || preflight_security::hash_password(&password)).await??;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let inserted = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.clone()),
        password_hash: Set(password_hash),
        role: Set(Role::Admin.as_str().to_owned()),
        display_name: Set(Some("Administrator".into())),
        disabled: Set(false),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await;
    let created = match inserted {
        Ok(u) => u,
        // Another replica starting at the same moment created it first: nothing to do.
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &txn,
        &audit::Actor::system(),
        audit::Entry {
            action: "user.bootstrap_admin",
            target_type: "user",
            target_id: created.id.to_string(),
            before: None,
            after: Some(serde_json::json!({"email": email, "role": "admin"})),
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(email = %email, "created the bootstrap admin");
    Ok(())
}
