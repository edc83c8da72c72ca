//! Keys from the configuration: the encryption keyring, and development keys generated once
//! under `DATA_DIR` (mode 0600) so tokens and encrypted fields survive a restart without any
//! setup. Development keys are never used in production, which requires real keys.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use preflight_security::{EncryptionKey, Keyring};
use secrecy::{ExposeSecret, SecretString};

use crate::config::Settings;

/// The encryption keyring from `ENCRYPTION_KEY` and `ENCRYPTION_KEY_PREVIOUS`.
pub fn keyring(settings: &Settings) -> anyhow::Result<Keyring> {
    let current = settings
        .encryption_key
        .as_ref()
        .context("ENCRYPTION_KEY is not set")?;
    let current = EncryptionKey::parse(current.expose_secret()).context("ENCRYPTION_KEY")?;
    let previous = settings
        .encryption_key_previous
        .iter()
        .map(|k| EncryptionKey::parse(k.expose_secret()))
        .collect::<Result<Vec<_>, _>>()
        .context("ENCRYPTION_KEY_PREVIOUS")?;
    Ok(Keyring::new(current, previous))
}

/// Fills `SECRET_KEY` / `ENCRYPTION_KEY` from `DATA_DIR` in development when they are unset.
pub fn ensure_dev_keys(settings: &mut Settings) -> anyhow::Result<()> {
    if !settings.environment.is_development() {
        return Ok(());
    }
    if settings.secret_key.is_none() {
        settings.secret_key = Some(load_or_create(&settings.data_dir.join("secret_key"))?);
    }
    if settings.encryption_key.is_none() {
        settings.encryption_key = Some(load_or_create(&settings.data_dir.join("encryption_key"))?);
    }
    Ok(())
}

fn load_or_create(path: &Path) -> anyhow::Result<SecretString> {
    if let Ok(existing) = fs::read_to_string(path) {
        let trimmed = existing.trim();
        if !trimmed.is_empty() {
            return Ok(SecretString::from(trimmed.to_owned()));
        }
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let key = preflight_security::generate_key();
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(key.as_bytes())?;
    f.write_all(b"\n")?;
    tracing::warn!(path = %path.display(), "generated a development key; set it explicitly outside development");
    Ok(SecretString::from(key))
}
