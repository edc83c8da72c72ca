//! `preflight admin ...`: recovery commands run on the server itself.

use std::io::BufRead;

use clap::Subcommand;

use crate::config::Settings;
use crate::db::audit::{Actor, Entry};
use crate::store::users::{self, NewPassword, PasswordError};
use crate::write::Write;

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
            // The same path as a password change through the API: checked, hashed, written
            // with a compare-and-set, every session revoked, audited.
            let password = match NewPassword::new(password).await {
                Ok(p) => p,
                Err(PasswordError::Weak(why)) => anyhow::bail!("refusing a weak password: {why}"),
                Err(e) => return Err(e.into()),
            };
            let db = super::connect(settings).await?;
            let email = email.trim().to_lowercase();
            let Some(user) = users::find_by_email(&db, &email).await? else {
                anyhow::bail!("no user with email {email}");
            };
            let changes = users::Changes {
                disabled: Some(false),
                password: Some(password),
                ..Default::default()
            };
            let write = Write::begin(&db, Actor::named("cli")).await?;
            let mut change = users::update(write.txn(), &user, changes).await?;
            change.entry = Entry {
                action: "user.reset_password",
                target_type: "user",
                target_id: user.id.to_string(),
                before: None,
                after: None,
                comment: Some("password reset from the command line".into()),
            };
            write.commit(change).await?;
            println!("password reset for {email}; existing sessions revoked");
        }
    }
    Ok(())
}
