//! Personal API tokens for CI and scripts: shown once, stored hashed, scoped, expiring,
//! revocable, with the time of last use.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::authn::API_TOKEN_PREFIX;
use super::{AuthUser, Credential, Scope};
use crate::db::entities::api_token;
use crate::docs::problems;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::state::AppState;
use crate::store::api_tokens::{self, NewToken};
use crate::write::Write;

/// Longest lifetime of a token, in days (also in the schema, held to it by routes_tests.rs).
pub const MAX_TOKEN_DAYS: i64 = 366;
/// Longest token name, in characters.
pub const MAX_TOKEN_NAME: usize = 200;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "CI deploy gate", "scopes": ["read"], "expires_in_days": 30}))]
pub struct CreateApiToken {
    /// A label to recognise the token by, e.g. "CI deploy gate"; 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Defaults to `["read"]`; at least one.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub scopes: Option<Vec<Scope>>,
    /// Days until the token expires (1–366, default 90).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 366)]
    pub expires_in_days: Option<i64>,
}

/// A token as listed: never includes the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenInfo {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// The response to creating a token: the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub info: ApiTokenInfo,
    /// The token itself. Store it now: it cannot be shown again.
    pub token: String,
}

impl From<api_token::Model> for ApiTokenInfo {
    fn from(m: api_token::Model) -> Self {
        Self {
            id: m.id,
            scopes: Scope::parse_list(&m.scopes),
            name: m.name,
            created_at: m.created_at,
            expires_at: m.expires_at,
            last_used_at: m.last_used_at,
            revoked: m.revoked_at.is_some(),
        }
    }
}

fn require_session(auth: &AuthUser) -> ApiResult<()> {
    if matches!(auth.credential, Credential::ApiToken { .. }) {
        return Err(ApiError::forbidden(
            "API tokens cannot manage API tokens; log in instead",
        ));
    }
    Ok(())
}

/// `/me/tokens` and `/me/tokens/{id}`.
/// Each handler is routed together with its `#[utoipa::path]` operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

#[utoipa::path(get, path = "/me/tokens", operation_id = "list_api_tokens", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Your API tokens", body = [ApiTokenInfo]),
        (status = 401, response = problems::Unauthorized)))]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<Vec<ApiTokenInfo>>> {
    let rows = api_tokens::list_for_user(&state.db, auth.user_id).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/me/tokens", operation_id = "create_api_token", tag = "auth", security(("bearer" = [])),
    request_body = CreateApiToken,
    responses((status = 201, description = "Created; the token is shown once", body = CreatedApiToken),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::ValidationFailed)))]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<CreateApiToken>,
) -> ApiResult<(StatusCode, Json<CreatedApiToken>)> {
    Ok((StatusCode::CREATED, Json(issue(&state, &auth, body).await?)))
}

/// Creates an API token for the caller (the API and the account page); the secret is in the
/// answer and nowhere else.
pub async fn issue(
    state: &AppState,
    auth: &AuthUser,
    body: CreateApiToken,
) -> ApiResult<CreatedApiToken> {
    require_session(auth)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME {
        return Err(ApiError::validation("invalid token")
            .field("name", format!("must be 1–{MAX_TOKEN_NAME} characters")));
    }
    let scopes = body.scopes.unwrap_or_else(|| vec![Scope::Read]);
    if scopes.is_empty() {
        return Err(ApiError::validation("invalid token").field("scopes", "at least one scope"));
    }
    let days = body.expires_in_days.unwrap_or(90);
    if !(1..=MAX_TOKEN_DAYS).contains(&days) {
        return Err(ApiError::validation("invalid token").field(
            "expires_in_days",
            format!("must be between 1 and {MAX_TOKEN_DAYS}"),
        ));
    }
    let mut scope_list: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    scope_list.sort_unstable();
    scope_list.dedup();
    let generated = preflight_security::token::generate(API_TOKEN_PREFIX);
    let new = NewToken {
        user_id: auth.user_id,
        name: name.to_owned(),
        token_hash: generated.hash.clone(),
        scopes: scope_list.join(" "),
        expires_at: Utc::now() + chrono::Duration::days(days),
    };
    let write = Write::begin(&state.db, auth.actor()).await?;
    let change = api_tokens::insert(write.txn(), new).await?;
    let model = write.commit(change).await?;
    Ok(CreatedApiToken {
        info: model.into(),
        token: generated.plaintext.expose_secret().to_owned(),
    })
}

#[utoipa::path(delete, path = "/me/tokens/{id}", operation_id = "revoke_api_token", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound)))]
pub async fn revoke(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    revoke_own(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes one of the caller's API tokens (the API and the account page); revoking a revoked
/// token changes nothing.
pub async fn revoke_own(state: &AppState, auth: &AuthUser, id: Uuid) -> ApiResult<()> {
    // Revoking is managing tokens: a leaked read-only token must not be able to cut off
    // its owner's other clients.
    require_session(auth)?;
    let tok = api_tokens::find_for_user(&state.db, id, auth.user_id).await?;
    if tok.revoked_at.is_none() {
        let write = Write::begin(&state.db, auth.actor()).await?;
        let change = api_tokens::revoke(write.txn(), &tok).await?;
        write.commit(change).await?;
        super::standing::forget_api_tokens(state).await;
    }
    Ok(())
}
