//! Accounts: users, their password hashes, and the one way a password is changed (through the
//! API or `preflight admin reset-password`): checked, hashed on the blocking pool, written with
//! a compare-and-set, and every session of the user revoked in the same transaction.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use uuid::Uuid;

use super::write::{Audited, compare_and_set, taken};
use super::{StoreError, StoreResult, sessions};
use crate::db::audit::Entry;
use crate::db::entities::user;

/// A password refused or not hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too weak to accept; the text says why (never what the password is).
    #[error("{0}")]
    Weak(&'static str),
    #[error("hashing the password failed: {0}")]
    Hashing(String),
}

/// A new password, checked and hashed: what [`insert`] and [`update`] store.
pub struct NewPassword {
    hash: String,
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword([hash])")
    }
}

/// Longest password accepted, in bytes (the login's bound too).
pub const MAX_PASSWORD_BYTES: usize = 1024;

impl NewPassword {
    /// Refuses a weak password, then hashes it on the blocking pool (argon2 is slow on
    /// purpose).
    pub async fn new(password: String) -> Result<Self, PasswordError> {
        // The login refuses longer ones, so such a password could never be used.
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::Weak("longer than 1024 bytes"));
        }
        if let Some(why) = preflight_security::is_weak_password(&password) {
            return Err(PasswordError::Weak(why));
        }
        Self::hash(password).await
    }

    /// Hashes a password whose strength is checked elsewhere (`ADMIN_PASSWORD`, which
    /// start-up refuses in production when it is the default).
    pub async fn configured(password: String) -> Result<Self, PasswordError> {
        Self::hash(password).await
    }

    async fn hash(password: String) -> Result<Self, PasswordError> {
        let hash = crate::password_work::run(move || preflight_security::hash_password(&password))
            .await
            .map_err(PasswordError::Hashing)?
            .map_err(|e| PasswordError::Hashing(e.to_string()))?;
        Ok(Self { hash })
    }
}

/// A user by id.
pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no user {id}")))
}

/// A user by id, if there is one.
pub async fn lookup<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// A user by (normalised) email, if there is one.
pub async fn find_by_email<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> StoreResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?)
}

/// One page (1-based) of users by email, and the total.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    page: u64,
    per_page: u64,
) -> StoreResult<(Vec<user::Model>, u64)> {
    let paginator = user::Entity::find()
        .order_by_asc(user::Column::Email)
        .paginate(db, per_page);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page - 1).await?;
    Ok((items, total))
}

/// A user to create.
#[derive(Debug)]
pub struct NewUser {
    pub email: String,
    pub password: NewPassword,
    pub role: &'static str,
    pub display_name: Option<String>,
}

/// Creates a user (an email already registered is [`StoreError::Taken`]); `action` names the
/// audit entry (`user.create`, `user.bootstrap_admin`).
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewUser,
    action: &'static str,
) -> StoreResult<Audited<user::Model>> {
    let now = Utc::now();
    let email = new.email;
    let created = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.clone()),
        password_hash: Set(new.password.hash),
        role: Set(new.role.to_owned()),
        display_name: Set(new.display_name),
        disabled: Set(false),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(taken("email", || {
        format!("a user with email {email} already exists")
    }))?;
    let entry = Entry {
        action,
        target_type: "user",
        target_id: created.id.to_string(),
        before: None,
        after: Some(serde_json::json!({"email": created.email, "role": created.role})),
        comment: None,
    };
    Ok(Audited::new(created, entry))
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Changes {
    pub role: Option<&'static str>,
    pub disabled: Option<bool>,
    /// `Some(None)` clears it.
    pub display_name: Option<Option<String>>,
    pub password: Option<NewPassword>,
}

/// Every enabled admin.
pub async fn enabled_admins<C: ConnectionTrait>(db: &C) -> StoreResult<Vec<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq("admin"))
        .filter(user::Column::Disabled.eq(false))
        .all(db)
        .await?)
}

/// Applies `changes` to `current` if nobody changed it since. A new password or disabling the
/// user revokes every session of theirs, in the same transaction.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    current: &user::Model,
    changes: Changes,
) -> StoreResult<Audited<user::Model>> {
    let id = current.id;
    let mut active: user::ActiveModel = current.clone().into();
    if let Some(role) = changes.role {
        active.role = Set(role.to_owned());
    }
    if let Some(d) = changes.disabled {
        active.disabled = Set(d);
    }
    if let Some(name) = changes.display_name {
        active.display_name = Set(name);
    }
    let password_changed = changes.password.is_some();
    if let Some(p) = changes.password {
        active.password_hash = Set(p.hash);
    }
    active.version = Set(current.version + 1);
    active.updated_at = Set(Utc::now());
    let update = user::Entity::update_many()
        .set(active)
        .filter(user::Column::Id.eq(id));
    compare_and_set(db, update, user::Column::Version, current.version, "user").await?;
    if password_changed || changes.disabled == Some(true) {
        sessions::revoke_all_for_user(db, id).await?;
    }
    let updated = find(db, id).await?;
    let entry = Entry {
        action: "user.update",
        target_type: "user",
        target_id: id.to_string(),
        before: Some(serde_json::json!({"role": current.role, "disabled": current.disabled})),
        after: Some(
            serde_json::json!({"role": updated.role, "disabled": updated.disabled, "password_changed": password_changed}),
        ),
        comment: None,
    };
    Ok(Audited::new(updated, entry))
}

/// Deletes a user (their tokens go with them).
pub async fn delete<C: ConnectionTrait>(db: &C, current: &user::Model) -> StoreResult<Audited<()>> {
    user::Entity::delete_by_id(current.id).exec(db).await?;
    let entry = Entry {
        action: "user.delete",
        target_type: "user",
        target_id: current.id.to_string(),
        before: Some(serde_json::json!({"email": current.email, "role": current.role})),
        after: None,
        comment: None,
    };
    Ok(Audited::new((), entry))
}
