//! The production refusal list: every insecure setting, reported at once.

use secrecy::ExposeSecret;

use super::{DEFAULT_ADMIN_PASSWORD, Environment, Settings};

/// One item of the production refusal list, as `doctor` reports it.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// The checklist item, e.g. "SECRET_KEY is set and strong".
    pub item: &'static str,
    /// Why it holds, when it does.
    pub ok: String,
    /// Why it does not; empty when it holds.
    pub problems: Vec<String>,
}

/// Every requirement production enforces at start, each with its problems.
pub fn production_requirements(s: &Settings) -> Vec<Requirement> {
    let secret = s.secret_key.as_ref().map(|k| k.expose_secret());
    let enc = s.encryption_key.as_ref().map(|k| k.expose_secret());
    let mut enc_problems = preflight_security::check_secret("ENCRYPTION_KEY", enc);
    if secret.is_some() && secret == enc {
        enc_problems.push("ENCRYPTION_KEY equals SECRET_KEY: they must be different keys".into());
    }
    let admin = s.admin_password.expose_secret();
    let admin_problems = if admin == DEFAULT_ADMIN_PASSWORD {
        vec!["ADMIN_PASSWORD is the development default; set a strong one".to_owned()]
    } else {
        preflight_security::is_weak_password(admin)
            .map(|why| vec![format!("ADMIN_PASSWORD is weak: {why}")])
            .unwrap_or_default()
    };
    let mut cors = Vec::new();
    if s.allowed_origins.is_empty() {
        cors.push("ALLOWED_ORIGINS is empty; list the production origins".to_owned());
    }
    if s.allowed_origins.iter().any(|o| o.contains('*')) {
        cors.push("ALLOWED_ORIGINS must not contain a wildcard (*)".to_owned());
    }
    let metrics = match &s.metrics_token {
        None => vec!["METRICS_TOKEN is not set; /metrics would be open".to_owned()],
        Some(t) if t.expose_secret().len() < 16 => {
            vec!["METRICS_TOKEN is shorter than 16 characters".to_owned()]
        }
        Some(_) => Vec::new(),
    };
    let https = if s.https_configured() {
        Vec::new()
    } else {
        vec![
            "neither TLS_CERT/TLS_KEY nor HTTPS_UPSTREAM=true: serve HTTPS, or declare the \
             TLS-terminating proxy in front with HTTPS_UPSTREAM=true"
                .to_owned(),
        ]
    };
    vec![
        Requirement {
            item: "HTTPS is configured",
            ok: if s.tls_cert.is_some() {
                "native TLS (TLS_CERT/TLS_KEY)".into()
            } else {
                "terminated upstream (HTTPS_UPSTREAM=true)".into()
            },
            problems: https,
        },
        Requirement {
            item: "SECRET_KEY is set and strong",
            ok: "set, long and not a placeholder".into(),
            problems: preflight_security::check_secret("SECRET_KEY", secret),
        },
        Requirement {
            item: "ENCRYPTION_KEY is set and separate",
            ok: "set, 32 bytes, distinct from SECRET_KEY".into(),
            problems: enc_problems,
        },
        Requirement {
            item: "ADMIN_PASSWORD is changed from the default",
            ok: "not the default and not weak".into(),
            problems: admin_problems,
        },
        Requirement {
            item: "CORS allows only listed origins",
            ok: format!("allowed origins: {}", s.allowed_origins.join(", ")),
            problems: cors,
        },
        Requirement {
            item: "/metrics is protected",
            ok: "METRICS_TOKEN is set".into(),
            problems: metrics,
        },
    ]
}

/// Every reason the settings are unfit for production; empty when they are fit.
/// Only production refuses to start on these; other environments get them as warnings.
pub fn production_problems(s: &Settings) -> Vec<String> {
    production_requirements(s)
        .into_iter()
        .flat_map(|r| r.problems)
        .collect()
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
