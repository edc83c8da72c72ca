//! Login sessions: opaque refresh tokens stored as SHA-256 hashes. All tokens descending from
//! one login form a family, revoked together.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::StoreResult;
use super::write::Audited;
use crate::db::audit::Entry;
use crate::db::entities::refresh_token;

/// Stores a refresh token (by its hash) of `family` for `user_id`.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    family: Uuid,
    token_hash: String,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        family_id: Set(family),
        token_hash: Set(token_hash),
        created_at: Set(Utc::now()),
        expires_at: Set(expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The refresh token with this hash, if any.
pub async fn find_by_hash<C: ConnectionTrait>(
    db: &C,
    token_hash: &str,
) -> StoreResult<Option<refresh_token::Model>> {
    Ok(refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token_hash))
        .one(db)
        .await?)
}

/// Marks the token used, only if nobody did: of two concurrent refreshes one wins. `false`
/// when it was already used.
pub async fn claim<C: ConnectionTrait>(db: &C, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// Whether the login `family` of `user_id` still has a token that is not revoked: its access
/// tokens stand only while it does.
pub async fn family_live<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    family: Uuid,
) -> StoreResult<bool> {
    use sea_orm::PaginatorTrait;
    let live = refresh_token::Entity::find()
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .count(db)
        .await?;
    Ok(live > 0)
}

/// Revokes every token of a login (logout).
pub async fn revoke_family<C: ConnectionTrait>(db: &C, family: Uuid) -> StoreResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// A spent refresh token was presented again: it was stolen or replayed, so its whole login
/// is revoked, and the audit log says so.
pub async fn revoke_reused<C: ConnectionTrait>(
    db: &C,
    token: &refresh_token::Model,
) -> StoreResult<Audited<()>> {
    revoke_family(db, token.family_id).await?;
    let entry = Entry {
        action: "auth.refresh_token_reuse",
        target_type: "user",
        target_id: token.user_id.to_string(),
        before: None,
        after: None,
        comment: Some("a spent refresh token was presented; its session was revoked".into()),
    };
    Ok(Audited::new((), entry))
}

/// Revokes every refresh token of a user (password change, disabling).
pub async fn revoke_all_for_user<C: ConnectionTrait>(db: &C, user_id: Uuid) -> StoreResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
