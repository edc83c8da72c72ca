//! Credential values: read from the file itself, an environment variable or a file, and never
//! echoed in a message (errors name the variable or file, not what it holds).

use std::path::Path;

use preflight_probe::Credential;

use super::file::CredentialTable;
use crate::cli::check::UsageError;

/// A resolved credential and the secret strings output must never show.
pub struct Resolved {
    pub credential: Credential,
    pub secrets: Vec<String>,
}

/// Turns one `[[x.credentials]]` table into a probe credential. `at` names the table in
/// messages (`config.toml: target.credentials[0]`); relative files are under `base`.
pub fn resolve(table: &CredentialTable, at: &str, base: &Path) -> Result<Resolved, UsageError> {
    use secrecy::ExposeSecret;
    let fail = |message: String| UsageError::new(format!("{at}: {message}"));
    http::HeaderName::from_bytes(table.header.as_bytes())
        .map_err(|_| fail(format!("\"{}\" is not a valid header name", table.header)))?;
    let raw = match (&table.value, &table.value_env, &table.value_file) {
        (Some(value), None, None) => value.0.expose_secret().to_owned(),
        (None, Some(var), None) => match std::env::var(var) {
            Ok(value) if value.is_empty() => {
                return Err(fail(format!("environment variable {var} is empty")));
            }
            Ok(value) => value,
            Err(std::env::VarError::NotPresent) => {
                return Err(fail(format!("environment variable {var} is not set")));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(fail(format!(
                    "environment variable {var} is not valid UTF-8"
                )));
            }
        },
        (None, None, Some(file)) => {
            let path = base.join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| fail(format!("cannot read value_file {}: {e}", path.display())))?;
            let value = text.trim_end_matches(['\n', '\r']).to_owned();
            if value.is_empty() {
                return Err(fail(format!("value_file {} is empty", path.display())));
            }
            value
        }
        _ => {
            return Err(fail(
                "give exactly one of value, value_env or value_file".into(),
            ));
        }
    };
    let full = format!("{}{raw}", table.prefix.as_deref().unwrap_or_default());
    if http::HeaderValue::from_str(&full).is_err() {
        return Err(fail(format!(
            "the value of header {} is not a valid header value (control characters or a line break)",
            table.header
        )));
    }
    let mut secrets = vec![full.clone()];
    if full != raw {
        secrets.push(raw);
    }
    let mut credential = Credential::header(table.header.clone(), full);
    if let Some(prefix) = &table.paths {
        if !prefix.starts_with('/') {
            return Err(fail(format!("paths \"{prefix}\" must start with /")));
        }
        credential = credential.for_paths(prefix.clone());
    }
    Ok(Resolved {
        credential,
        secrets,
    })
}
