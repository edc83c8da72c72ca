//! Whether a login's access token still stands: its user exists, is enabled, and its session
//! (refresh-token family) is not revoked; and the user's role and email as they are now, not
//! as they were when the token was issued. Checked on every request, so demoting, disabling,
//! deleting, a new password and logout take effect at once rather than when the token expires.
//!
//! Personal API tokens likewise ([`of_api_token`]): the token as stored and its owner as they
//! are now, cached per token.
//!
//! Answers are cached for [`TTL`] under a tag per user (sessions) or one tag for all API
//! tokens; every change that can revoke a token calls [`forget`], [`forget_sessions`] or
//! [`forget_api_tokens`] after it commits, so the
//! writer's replica (and, with Redis, every replica) sees it on the next request. Without
//! Redis another replica sees it within [`TTL`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::state::AppState;
use crate::store::{StoreError, StoreResult, api_tokens, sessions, users};

/// How long an answer is reused: short, because it bounds how late a revocation made through
/// another process without a shared cache is seen.
pub const TTL: Duration = Duration::from_secs(5);

/// The user behind a live session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Standing {
    pub role: String,
    pub email: String,
}

/// A personal API token as stored, and its owner as they are now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenStanding {
    pub token_id: Uuid,
    /// Space-separated scopes.
    pub scopes: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    pub last_used_at: Option<DateTime<Utc>>,
    pub owner_id: Uuid,
    pub owner_disabled: bool,
    pub role: String,
    pub email: String,
}

fn tag(user_id: Uuid) -> String {
    format!("auth-user:{user_id}")
}

/// One tag for every API token: a per-token tag would let anyone make the shared cache keep a
/// generation counter for every made-up token they send. Revocations and changes to users
/// are rare; each makes the next request of every token look its token up once.
const TOKENS_TAG: &str = "auth-tokens";

/// The user of session `sid` as they are now; `None` when the token no longer stands.
pub async fn of_session(
    state: &AppState,
    user_id: Uuid,
    sid: Uuid,
) -> StoreResult<Option<Standing>> {
    let ttl = TTL.min(state.settings.cache_ttl);
    state
        .cache
        .get_or_insert_with_json(&tag(user_id), &sid.to_string(), ttl, || async {
            let Some(user) = users::lookup(&state.db, user_id).await? else {
                return Ok(None);
            };
            if user.disabled || !sessions::family_live(&state.db, user_id, sid).await? {
                return Ok(None);
            }
            Ok(Some(Standing {
                role: user.role,
                email: user.email,
            }))
        })
        .await
}

/// The API token whose hash is `token_hash` and its owner; `None` when no such token (or
/// owner) exists. Expiry, revocation and the owner's state are for the caller to judge. Only
/// tokens that exist are cached: unknown ones cost a lookup each, and store nothing.
pub async fn of_api_token(
    state: &AppState,
    token_hash: &str,
) -> StoreResult<Option<TokenStanding>> {
    let ttl = TTL.min(state.settings.cache_ttl);
    let found = state
        .cache
        .get_or_insert_with_json(TOKENS_TAG, token_hash, ttl, || async {
            let Some((tok, Some(owner))) =
                api_tokens::find_with_owner(&state.db, token_hash).await?
            else {
                // An error, so that nothing is cached for it.
                return Err(StoreError::NotFound("no such API token".to_owned()));
            };
            Ok(TokenStanding {
                token_id: tok.id,
                scopes: tok.scopes,
                expires_at: tok.expires_at,
                revoked: tok.revoked_at.is_some(),
                last_used_at: tok.last_used_at,
                owner_id: owner.id,
                owner_disabled: owner.disabled,
                role: owner.role,
                email: owner.email,
            })
        })
        .await;
    match found {
        Ok(tok) => Ok(Some(tok)),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Drops what is cached about `user_id`'s sessions: call after a logout or a refresh token's
/// reuse has committed.
pub async fn forget_sessions(state: &AppState, user_id: Uuid) {
    state.cache.invalidate(&tag(user_id)).await;
}

/// Drops what is cached about `user_id`'s sessions and API tokens: call after a change to the
/// user (role, disabling, password, deletion) has committed.
pub async fn forget(state: &AppState, user_id: Uuid) {
    forget_sessions(state, user_id).await;
    forget_api_tokens(state).await;
}

/// Drops what is cached about API tokens (one revoked, or its last use recorded).
pub async fn forget_api_tokens(state: &AppState) {
    state.cache.invalidate(TOKENS_TAG).await;
}
