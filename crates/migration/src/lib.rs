//! Versioned migrations, embedded in the binary, one set for SQLite and PostgreSQL.
//!
//! Every foreign key and every lookup column gets an index here; a test in the server crate
//! reads the database catalog to prove it.

pub use sea_orm_migration::MigrationStatus;
pub use sea_orm_migration::prelude::*;

mod m20261123_000001_users;
mod m20261123_000002_tokens;
mod m20261123_000003_audit_log;
mod m20261123_000004_backups;
mod m20261124_000001_checklists;
mod m20261203_000001_reviews_attached_once;
mod m20261204_000001_check_runner;

/// The migrator the binary runs (`preflight migrate up|status`, and at start in development).
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_users::Migration),
            Box::new(m20261123_000002_tokens::Migration),
            Box::new(m20261123_000003_audit_log::Migration),
            Box::new(m20261123_000004_backups::Migration),
            Box::new(m20261124_000001_checklists::Migration),
            Box::new(m20261203_000001_reviews_attached_once::Migration),
            Box::new(m20261204_000001_check_runner::Migration),
        ]
    }
}
