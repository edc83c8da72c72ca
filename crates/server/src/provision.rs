//! What every installation has, made sure of at start-up: the bootstrap admin and the built-in
//! template. Both are idempotent and safe with several replicas starting at once: the unique
//! indexes let one insert win, and the others find nothing left to do.

use preflight_domain::{PRODUCTION_READINESS, parse_checklist};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::db::audit::Actor;
use crate::store::users::{NewPassword, NewUser};
use crate::store::{StoreError, checklists, users};
use crate::write::Write;

/// Name of the built-in template.
pub const BUILTIN_NAME: &str = "Production readiness";

/// Creates the bootstrap admin (`ADMIN_EMAIL` / `ADMIN_PASSWORD`) when no such user exists.
/// An existing user is left untouched: the environment never silently resets a password.
pub async fn bootstrap_admin(
    db: &DatabaseConnection,
    email: &str,
    password: &str,
) -> anyhow::Result<()> {
    if users::find_by_email(db, email).await?.is_some() {
        return Ok(());
    }
    let new = NewUser {
        email: email.to_owned(),
        password: NewPassword::configured(password.to_owned()).await?,
        role: "admin",
        display_name: Some("Administrator".into()),
    };
    let write = Write::begin(db, Actor::system()).await?;
    match users::insert(write.txn(), new, "user.bootstrap_admin").await {
        Ok(change) => {
            write.commit(change).await?;
            tracing::info!(email = %email, "created the bootstrap admin");
            Ok(())
        }
        // Another replica starting at the same moment created it first: nothing to do.
        Err(StoreError::Taken { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Emails of the enabled admins whose password is still the development default: a database
/// first started in development keeps that account, whatever `ADMIN_PASSWORD` says later.
pub async fn admins_with_default_password(db: &DatabaseConnection) -> anyhow::Result<Vec<String>> {
    let admins = users::enabled_admins(db).await?;
    // argon2 is deliberately slow: off the async workers.
    let found = tokio::task::spawn_blocking(move || {
        admins
            .into_iter()
            .filter(|u| {
                preflight_security::verify_password(
                    crate::config::DEFAULT_ADMIN_PASSWORD,
                    &u.password_hash,
                )
            })
            .map(|u| u.email)
            .collect()
    })
    .await?;
    Ok(found)
}

/// Makes sure the built-in template exists and matches this binary's text; the template's id
/// when this call gave it a new version (what is cached about it is then stale).
pub async fn seed_builtin(db: &DatabaseConnection) -> anyhow::Result<Option<Uuid>> {
    let doc = parse_checklist(PRODUCTION_READINESS)
        .map_err(|e| anyhow::anyhow!("the built-in template does not import: {e}"))?;
    match checklists::find_builtin(db).await? {
        Some(m) if m.source == PRODUCTION_READINESS => Ok(None),
        Some(m) => {
            // A newer binary ships new wording: a new version; existing reviews keep theirs.
            let write = Write::begin(db, Actor::system()).await?;
            match checklists::update_builtin(write.txn(), &m, PRODUCTION_READINESS, &doc).await {
                Ok(change) => {
                    write.commit(change).await?;
                    Ok(Some(m.id))
                }
                // Another replica updated it at the same moment (and dropped the cache).
                Err(StoreError::Changed(_)) => Ok(None),
                Err(e) => Err(e.into()),
            }
        }
        None => {
            // Someone imported their own "Production readiness" first: keep theirs.
            let name = if checklists::name_in_use(db, BUILTIN_NAME).await? {
                format!("{BUILTIN_NAME} (built-in)")
            } else {
                BUILTIN_NAME.to_owned()
            };
            let new = checklists::NewChecklist {
                name,
                builtin: true,
                source: PRODUCTION_READINESS.to_owned(),
                doc: &doc,
                created_by: Some(Actor::system().label),
            };
            let write = Write::begin(db, Actor::system()).await?;
            match checklists::insert(write.txn(), new).await {
                Ok(change) => {
                    write.commit(change).await?;
                    tracing::info!("installed the built-in checklist template");
                    Ok(None)
                }
                // Another replica inserted it at the same moment.
                Err(StoreError::Taken { .. }) => Ok(None),
                Err(e) => Err(anyhow::anyhow!("installing the built-in template: {e}")),
            }
        }
    }
}
