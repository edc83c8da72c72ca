//! The production refusal list (PRODUCT.md §5): every insecure setting, reported at once.

use secrecy::ExposeSecret;

use super::{DEFAULT_ADMIN_PASSWORD, Environment, Settings};

/// Every reason the settings are unfit for production; empty when they are fit.
/// Only production refuses to start on these; other environments get them as warnings.
pub fn production_problems(s: &Settings) -> Vec<String> {
    let mut problems = Vec::new();
    let secret = s.secret_key.as_ref().map(|k| k.expose_secret());
    let enc = s.encryption_key.as_ref().map(|k| k.expose_secret());
    problems.extend(preflight_security::check_secret("SECRET_KEY", secret));
    problems.extend(preflight_security::check_secret("ENCRYPTION_KEY", enc));
    if let (Some(a), Some(b)) = (secret, enc)
        && a == b
    {
        problems.push("SECRET_KEY and ENCRYPTION_KEY must be different keys".into());
    }
    let admin = s.admin_password.expose_secret();
    if admin == DEFAULT_ADMIN_PASSWORD {
        problems.push("ADMIN_PASSWORD is the development default; set a strong one".into());
    } else if let Some(why) = preflight_security::is_weak_password(admin) {
        problems.push(format!("ADMIN_PASSWORD is weak: {why}"));
    }
    if s.allowed_origins.is_empty() {
        problems.push("ALLOWED_ORIGINS is empty; list the production origins".into());
    }
    if s.allowed_origins.iter().any(|o| o.contains('*')) {
        problems.push("ALLOWED_ORIGINS must not contain a wildcard (*)".into());
    }
    match &s.metrics_token {
        None => problems.push("METRICS_TOKEN is not set; /metrics would be open".into()),
        Some(t) if t.expose_secret().len() < 16 => {
            problems.push("METRICS_TOKEN is shorter than 16 characters".into())
        }
        Some(_) => {}
    }
    problems
}

impl Settings {
    /// Refuses production settings with any problem; returns the problems as warnings otherwise.
    pub fn check_for_start(&self) -> Result<Vec<String>, super::ConfigError> {
        let problems = production_problems(self);
        if self.environment == Environment::Production && !problems.is_empty() {
            return Err(super::ConfigError::new(problems));
        }
        Ok(problems)
    }
}
