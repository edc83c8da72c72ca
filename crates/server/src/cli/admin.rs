//! `preflight admin ...`: recovery commands run on the server itself.

use std::io::BufRead;

use chrono::Utc;
use clap::Subcommand;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use crate::config::Settings;
use crate::db::audit;
use crate::db::entities::user;

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Set a new password for a user (e.g. a lost admin password); reads it from standard input
    /// so it never appears in the shell history or the process list. Revokes the user's sessions.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
}

pub async fn run(settings: &mut Settings, action: Action) -> anyhow::Result<()> {
    match action {
        Action::ResetPassword { email } => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let password = line.trim_end_matches(['\r', '\n']).to_owned();
            if let Some(why) = preflight_security::is_weak_password(&password) {
                anyhow::bail!("refusing a weak password: {why}");
            }
            let db = super::connect(settings).await?;
            let email = email.trim().to_lowercase();
            let txn = db.begin().await?;
            let Some(u) = user::Entity::find()
                .filter(user::Column::Email.eq(&email))
                .one(&txn)
                .await?
            else {
                anyhow::bail!("no user with email {email}");
            };
            let id = u.id;
            let hash = preflight_security::hash_password(&password)?;
            let mut active: user::ActiveModel = u.clone().into();
            active.password_hash = Set(hash);
            active.disabled = Set(false);
            active.version = Set(u.version + 1);
            active.updated_at = Set(Utc::now());
            active.update(&txn).await?;
            crate::auth::session::revoke_all_for_user(&txn, id).await?;
            audit::record(
                &txn,
                &audit::Actor {
                    id: None,
                    label: "cli".into(),
                },
                audit::Entry {
                    action: "user.reset_password",
                    target_type: "user",
                    target_id: id.to_string(),
                    before: None,
                    after: None,
                    comment: Some("password reset from the command line".into()),
                },
            )
            .await?;
            txn.commit().await?;
            println!("password reset for {email}; existing sessions revoked");
        }
    }
    Ok(())
}
