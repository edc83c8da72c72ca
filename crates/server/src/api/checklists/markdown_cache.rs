//! A template's Markdown, rendered once per version and served from the cache: CI pipelines and
//! people fetch it far more often than anyone changes it. Every write to a template calls
//! [`forget`] after it commits.

use axum::body::Bytes;
use preflight_domain::to_markdown;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::checklists::{self, document_of};

fn tag(id: Uuid) -> String {
    format!("checklist:{id}")
}

/// The key under the template's tag.
const KEY: &str = "markdown";

/// The template's version and its Markdown.
pub async fn get(state: &AppState, id: Uuid) -> ApiResult<(i32, Bytes)> {
    // Stored as "<version>\n<markdown>".
    let stored = state
        .cache
        .get_or_fill(
            &tag(id),
            KEY,
            state.settings.cache_ttl,
            |stored| split(stored).is_some(),
            || async {
                let m = checklists::find(&state.db, id).await?;
                let text = to_markdown(&document_of(&m)?);
                ApiResult::Ok(format!("{}\n{text}", m.version).into_bytes())
            },
        )
        .await?;
    let (version, at) = split(&stored)
        .ok_or_else(|| ApiError::internal("cached checklist Markdown has no version line"))?;
    Ok((version, stored.slice(at..)))
}

/// The version and where the Markdown starts.
fn split(stored: &[u8]) -> Option<(i32, usize)> {
    let newline = stored.iter().position(|&b| b == b'\n')?;
    let version = std::str::from_utf8(&stored[..newline]).ok()?.parse().ok()?;
    Some((version, newline + 1))
}

/// Drops the template's cached Markdown: call after a write to it has committed.
pub async fn forget(state: &AppState, id: Uuid) {
    state.cache.invalidate(&tag(id)).await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_version_line_is_split_off() {
        assert_eq!(super::split(b"7\n# Title\n"), Some((7, 2)));
        assert_eq!(super::split(b"x\n# Title"), None);
        assert_eq!(super::split(b"no newline"), None);
    }
}
