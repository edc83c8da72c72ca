//! The audit log, user management (admins) and the account page with its API tokens.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use super::views::{when, when_or_never};
use super::{Layout, WebError, WebResult, WebUser, render, see_other};
use crate::api::audit::AuditParams;
use crate::api::users::{CreateUser, UpdateUser, add};
use crate::auth::api_tokens::{CreateApiToken, issue, revoke_own};
use crate::auth::{Role, Scope};
use crate::http::extract::ApiJson;
use crate::http::pagination::PageParams;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub action: Option<String>,
    pub page: Option<u64>,
}

pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub comment: String,
}

#[derive(askama::Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<AuditRow>,
    target_type: String,
    target_id: String,
    action: String,
    page: u64,
    pages: u64,
    total: u64,
}

fn text(v: &Option<String>) -> String {
    v.as_deref().unwrap_or_default().trim().to_owned()
}

/// `GET /audit`: the API's audit listing (account entries for admins only), with filters.
pub async fn audit(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<AuditQuery>,
) -> WebResult {
    let params = AuditParams {
        page: q.page,
        per_page: Some(50),
        target_type: Some(text(&q.target_type)),
        target_id: Some(text(&q.target_id)),
        action: Some(text(&q.action)),
    };
    let listed = crate::api::audit::list(State(state), user.auth.clone(), Query(params))
        .await?
        .0;
    Ok(render(
        StatusCode::OK,
        &AuditPage {
            layout: Layout::new("Audit log", Some(&user), "audit"),
            rows: listed
                .items
                .into_iter()
                .map(|e| AuditRow {
                    at: when(e.at),
                    actor: e.actor,
                    action: e.action,
                    target: format!("{} {}", e.target_type, e.target_id),
                    comment: e.comment.unwrap_or_default(),
                })
                .collect(),
            target_type: text(&q.target_type),
            target_id: text(&q.target_id),
            action: text(&q.action),
            page: listed.page,
            pages: listed.total.div_ceil(listed.per_page.max(1)).max(1),
            total: listed.total,
        },
    ))
}

pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    pub disabled: bool,
    pub created: String,
}

#[derive(askama::Template)]
#[template(path = "users.html")]
struct UsersPage {
    layout: Layout,
    rows: Vec<UserRow>,
    error: Option<String>,
    created: Option<String>,
}

async fn users_page(
    state: AppState,
    user: &WebUser,
    status: StatusCode,
    error: Option<String>,
    created: Option<String>,
) -> WebResult {
    let params = PageParams {
        page: Some(1),
        per_page: Some(200),
    };
    let listed = crate::api::users::list(State(state), user.auth.clone(), Query(params))
        .await?
        .0;
    Ok(render(
        status,
        &UsersPage {
            layout: Layout::new("Users", Some(user), "users"),
            rows: listed
                .items
                .into_iter()
                .map(|u| UserRow {
                    id: u.id,
                    email: u.email,
                    role: u.role.to_string(),
                    disabled: u.disabled,
                    created: when(u.created_at),
                })
                .collect(),
            error,
            created,
        },
    ))
}

/// `GET /admin/users` (admins: the API's check).
pub async fn users(State(state): State<AppState>, user: WebUser) -> WebResult {
    users_page(state, &user, StatusCode::OK, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

/// `POST /admin/users`: a new user through the API's function.
pub async fn create_user(
    State(state): State<AppState>,
    user: WebUser,
    Form(form): Form<UserForm>,
) -> WebResult {
    user.check_csrf(&form.csrf)?;
    let role: Role = form
        .role
        .parse()
        .map_err(|e: String| WebError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    let body = CreateUser {
        email: form.email,
        password: form.password,
        role,
        display_name: None,
    };
    match add(&state, &user.auth, body).await {
        Ok(created) => users_page(state, &user, StatusCode::OK, None, Some(created.email)).await,
        Err(e)
            if e.status == StatusCode::UNPROCESSABLE_ENTITY || e.status == StatusCode::CONFLICT =>
        {
            let status = e.status;
            let message = WebError::from(e).summary();
            users_page(state, &user, status, Some(message), None).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct UserChange {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    active: Option<String>,
}

/// `POST /admin/users/{id}`: role and status through the API's update (which refuses to
/// disable or demote yourself).
pub async fn update_user(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<Uuid>,
    Form(form): Form<UserChange>,
) -> WebResult {
    user.check_csrf(&form.csrf)?;
    let role: Role = form
        .role
        .parse()
        .map_err(|e: String| WebError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    let body = UpdateUser {
        role: Some(role),
        disabled: Some(form.active.is_none()),
        display_name: None,
        password: None,
    };
    let headers = axum::http::HeaderMap::new();
    let done = crate::api::users::update(
        State(state.clone()),
        user.auth.clone(),
        Path(id),
        headers,
        ApiJson(body),
    )
    .await;
    match done {
        Ok(_) => Ok(see_other("/admin/users")),
        Err(e)
            if e.status == StatusCode::CONFLICT || e.status == StatusCode::UNPROCESSABLE_ENTITY =>
        {
            let status = e.status;
            let message = WebError::from(e).summary();
            users_page(state, &user, status, Some(message), None).await
        }
        Err(e) => Err(e.into()),
    }
}

pub struct TokenRow {
    pub id: Uuid,
    pub name: String,
    pub scopes: String,
    pub expires: String,
    pub last_used: String,
    pub revoked: bool,
}

#[derive(askama::Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    email: String,
    role: String,
    tokens: Vec<TokenRow>,
    /// A token just created: shown this once.
    new_token: Option<String>,
    error: Option<String>,
}

async fn account_page(
    state: AppState,
    user: &WebUser,
    status: StatusCode,
    new_token: Option<String>,
    error: Option<String>,
) -> WebResult {
    let tokens = crate::auth::api_tokens::list(State(state), user.auth.clone())
        .await?
        .0;
    Ok(render(
        status,
        &AccountPage {
            layout: Layout::new("Account", Some(user), "account"),
            email: user.auth.email.clone(),
            role: user.auth.role.to_string(),
            tokens: tokens
                .into_iter()
                .map(|t| TokenRow {
                    id: t.id,
                    name: t.name,
                    scopes: t
                        .scopes
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                    expires: when_or_never(t.expires_at),
                    last_used: when_or_never(t.last_used_at),
                    revoked: t.revoked,
                })
                .collect(),
            new_token,
            error,
        },
    ))
}

/// `GET /account`.
pub async fn account(State(state): State<AppState>, user: WebUser) -> WebResult {
    account_page(state, &user, StatusCode::OK, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    write: Option<String>,
    #[serde(default)]
    days: String,
}

/// `POST /account/tokens`: a new token through the API's function, shown once on the page.
pub async fn create_token(
    State(state): State<AppState>,
    user: WebUser,
    Form(form): Form<TokenForm>,
) -> WebResult {
    user.check_csrf(&form.csrf)?;
    let days = form.days.trim();
    let days = if days.is_empty() {
        None
    } else {
        Some(days.parse::<i64>().map_err(|_| {
            WebError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "days must be a whole number",
            )
        })?)
    };
    let mut scopes = vec![Scope::Read];
    if form.write.is_some() {
        scopes.push(Scope::Write);
    }
    let body = CreateApiToken {
        name: form.name,
        scopes: Some(scopes),
        expires_in_days: days,
    };
    match issue(&state, &user.auth, body).await {
        Ok(created) => account_page(state, &user, StatusCode::OK, Some(created.token), None).await,
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let message = WebError::from(e).summary();
            account_page(
                state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(message),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /account/tokens/{id}/revoke`.
pub async fn revoke_token(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<Uuid>,
    Form(form): Form<RevokeForm>,
) -> WebResult {
    user.check_csrf(&form.csrf)?;
    revoke_own(&state, &user.auth, id).await?;
    Ok(see_other("/account"))
}
