//! Personal API tokens: stored hashed, scoped, expiring, revocable, with the time of last use.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::write::Audited;
use super::{StoreError, StoreResult};
use crate::db::audit::Entry;
use crate::db::entities::{api_token, user};

/// A user's tokens, newest first.
pub async fn list_for_user<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> StoreResult<Vec<api_token::Model>> {
    Ok(api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(user_id))
        .order_by_desc(api_token::Column::CreatedAt)
        .all(db)
        .await?)
}

/// The token with this hash and its owner (`None` when the owner is gone).
pub async fn find_with_owner<C: ConnectionTrait>(
    db: &C,
    token_hash: &str,
) -> StoreResult<Option<(api_token::Model, Option<user::Model>)>> {
    let Some(tok) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(token_hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let owner = user::Entity::find_by_id(tok.user_id).one(db).await?;
    Ok(Some((tok, owner)))
}

/// Records that the token `id` was used at `now`.
pub async fn touch<C: ConnectionTrait>(db: &C, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
    api_token::Entity::update_many()
        .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
        .filter(api_token::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// A token to store (the secret itself is never stored, only its hash).
#[derive(Debug)]
pub struct NewToken {
    pub user_id: Uuid,
    pub name: String,
    pub token_hash: String,
    /// Space-separated, sorted.
    pub scopes: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewToken,
) -> StoreResult<Audited<api_token::Model>> {
    let model = api_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(new.user_id),
        name: Set(new.name),
        token_hash: Set(new.token_hash),
        scopes: Set(new.scopes),
        created_at: Set(Utc::now()),
        expires_at: Set(Some(new.expires_at)),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    let entry = Entry {
        action: "api_token.create",
        target_type: "api_token",
        target_id: model.id.to_string(),
        before: None,
        after: Some(serde_json::json!({"name": model.name, "scopes": model.scopes})),
        comment: None,
    };
    Ok(Audited::new(model, entry))
}

/// A token of `user_id`.
pub async fn find_for_user<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    user_id: Uuid,
) -> StoreResult<api_token::Model> {
    api_token::Entity::find_by_id(id)
        .filter(api_token::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound("no such API token".into()))
}

/// Revokes a token that is not revoked yet.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    token: &api_token::Model,
) -> StoreResult<Audited<()>> {
    let mut active: api_token::ActiveModel = token.clone().into();
    active.revoked_at = Set(Some(Utc::now()));
    active.update(db).await?;
    let entry = Entry {
        action: "api_token.revoke",
        target_type: "api_token",
        target_id: token.id.to_string(),
        before: None,
        after: None,
        comment: None,
    };
    Ok(Audited::new((), entry))
}
