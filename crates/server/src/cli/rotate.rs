//! `preflight rotate-encryption-key`: moves every encrypted value to the current key.
//!
//! Procedure: set ENCRYPTION_KEY to a new key and ENCRYPTION_KEY_PREVIOUS to the old one,
//! run this command, then drop ENCRYPTION_KEY_PREVIOUS.

use crate::config::Settings;

pub async fn run(settings: &mut Settings) -> anyhow::Result<()> {
    crate::keys::ensure_dev_keys(settings)?;
    let keyring = crate::keys::keyring(settings)?;
    let db = super::connect(settings).await?;
    let report =
        crate::db::encrypted::rotate_all(&db, &keyring, crate::db::encrypted::FIELDS).await?;
    println!(
        "examined {} encrypted value(s), re-encrypted {} under the current key",
        report.examined, report.reencrypted
    );
    Ok(())
}
