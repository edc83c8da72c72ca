//! Whether a login's access token still stands: its user exists, is enabled, and its session
//! (refresh-token family) is not revoked; and the user's role and email as they are now, not
//! as they were when the token was issued. Checked on every request, so demoting, disabling,
//! deleting, a new password and logout take effect at once rather than when the token expires.
//!
//! The answer is cached for [`TTL`] under a tag per user; every change that can revoke a
//! token calls [`forget`] after it commits, so the writer's replica (and, with Redis, every
//! replica) sees it on the next request. Without Redis another replica sees it within [`TTL`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::state::AppState;
use crate::store::{StoreResult, sessions, users};

/// How long an answer is reused: short, because it bounds how late a revocation made through
/// another process without a shared cache is seen.
pub const TTL: Duration = Duration::from_secs(5);

/// The user behind a live session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Standing {
    pub role: String,
    pub email: String,
}

fn tag(user_id: Uuid) -> String {
    format!("auth-user:{user_id}")
}

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

/// Drops what is cached about `user_id`'s sessions: call after a change that can revoke them
/// (role, disabling, password, deletion, logout) has committed.
pub async fn forget(state: &AppState, user_id: Uuid) {
    state.cache.invalidate(&tag(user_id)).await;
}
