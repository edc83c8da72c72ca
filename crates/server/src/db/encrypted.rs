//! The registry of encrypted columns, so key rotation finds every one of them.
//!
//! Each value is encrypted with associated data `"<table>.<column>:<id>"`, binding the
//! ciphertext to its row: a value copied into another row does not decrypt.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use uuid::Uuid;

/// An encrypted text column in a table keyed by a UUID `id`.
#[derive(Debug, Clone, Copy)]
pub struct EncryptedField {
    pub table: &'static str,
    pub column: &'static str,
}

/// Every encrypted column. Add new ones here when a migration creates them.
pub const FIELDS: &[EncryptedField] = &[
    // Incident contacts (JSON array) and probe credentials (JSON object) of services.
    EncryptedField {
        table: "services",
        column: "contacts",
    },
    EncryptedField {
        table: "services",
        column: "credentials",
    },
    // Headers sent to the service's monitoring endpoints (JSON object per endpoint).
    EncryptedField {
        table: "services",
        column: "monitoring_credentials",
    },
];

/// Associated data for one value.
pub fn aad(table: &str, column: &str, id: Uuid) -> Vec<u8> {
    format!("{table}.{column}:{id}").into_bytes()
}

/// Outcome of a rotation.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RotationReport {
    pub examined: u64,
    pub reencrypted: u64,
}

/// Re-encrypts every value not under the current key, in one transaction per field.
pub async fn rotate_all(
    db: &DatabaseConnection,
    keyring: &preflight_security::Keyring,
    fields: &[EncryptedField],
) -> anyhow::Result<RotationReport> {
    let mut report = RotationReport::default();
    for f in fields {
        let txn = super::begin_write(db).await?;
        let select = Query::select()
            .columns([Alias::new("id"), Alias::new(f.column)])
            .from(Alias::new(f.table))
            .and_where(Expr::col(Alias::new(f.column)).is_not_null())
            .to_owned();
        let rows = txn.query_all(&select).await?;
        for row in rows {
            let id: Uuid = row.try_get("", "id")?;
            let value: String = row.try_get("", f.column)?;
            report.examined += 1;
            if !keyring.needs_rotation(&value) {
                continue;
            }
            let aad = aad(f.table, f.column, id);
            let rotated = keyring
                .reencrypt(&value, &aad)
                .map_err(|e| anyhow::anyhow!("{}.{} of {id}: {e}", f.table, f.column))?;
            let update = Query::update()
                .table(Alias::new(f.table))
                .value(Alias::new(f.column), rotated)
                .and_where(Expr::col(Alias::new("id")).eq(id))
                .to_owned();
            txn.execute(&update).await?;
            report.reencrypted += 1;
        }
        txn.commit().await.map_err(|e: DbErr| anyhow::anyhow!(e))?;
    }
    Ok(report)
}
