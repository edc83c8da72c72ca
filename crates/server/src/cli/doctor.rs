//! `preflight doctor`: the SECURITY and DATABASE items of the checklist, checked against the
//! current configuration and environment (in the spirit of Django's `check --deploy`).

use std::process::ExitCode;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Serialize;

use crate::config::{Environment, Settings};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Failure,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub section: &'static str,
    pub item: &'static str,
    pub status: Status,
    pub reason: String,
}

struct Findings {
    production: bool,
    list: Vec<Finding>,
}

impl Findings {
    fn push(
        &mut self,
        section: &'static str,
        item: &'static str,
        status: Status,
        reason: impl Into<String>,
    ) {
        self.list.push(Finding {
            section,
            item,
            status,
            reason: reason.into(),
        });
    }
    /// A failure in production, a warning elsewhere (development defaults are fine locally).
    fn prod_failure(
        &mut self,
        section: &'static str,
        item: &'static str,
        problems: Vec<String>,
        ok: &str,
    ) {
        if problems.is_empty() {
            self.push(section, item, Status::Ok, ok);
        } else {
            let status = if self.production {
                Status::Failure
            } else {
                Status::Warning
            };
            self.push(section, item, status, problems.join("; "));
        }
    }
}

/// Pure configuration checks (no I/O): the SECURITY section.
pub fn security_findings(s: &Settings) -> Vec<Finding> {
    let mut f = Findings {
        production: s.environment == Environment::Production,
        list: Vec::new(),
    };
    const SEC: &str = "SECURITY";
    for r in crate::config::production_requirements(s) {
        f.prod_failure(SEC, r.item, r.problems, &r.ok);
    }
    if s.environment == Environment::Production {
        f.push(SEC, "ENVIRONMENT=production", Status::Ok, "production");
    } else {
        f.push(
            SEC,
            "ENVIRONMENT=production",
            Status::Warning,
            format!("ENVIRONMENT is {}", s.environment.as_str()),
        );
    }
    if s.redis_url.is_some() {
        f.push(
            SEC,
            "REDIS_URL is configured",
            Status::Ok,
            "shared cache and rate limits",
        );
    } else {
        f.push(
            SEC,
            "REDIS_URL is configured",
            Status::Warning,
            "not set: cache and rate limits are per process",
        );
    }
    if s.rate_limit.enabled {
        f.push(
            SEC,
            "Rate limiting is enabled",
            Status::Ok,
            format!(
                "anonymous {}/{:?}, login {}/{:?}",
                s.rate_limit.anonymous.burst,
                s.rate_limit.anonymous.per,
                s.rate_limit.login.burst,
                s.rate_limit.login.per
            ),
        );
    } else {
        f.prod_failure(
            SEC,
            "Rate limiting is enabled",
            vec!["RATE_LIMIT_ENABLED=false".into()],
            "",
        );
    }
    let (status, reason) = env_file_status();
    f.push(SEC, ".env is not committed", status, reason);
    f.list
}

/// Whether a `.env` in the working directory is kept out of git.
fn env_file_status() -> (Status, String) {
    let env_exists = std::path::Path::new(".env").exists();
    if !env_exists {
        return (Status::Ok, "no .env in the working directory".into());
    }
    let ignored = std::fs::read_to_string(".gitignore")
        .map(|g| {
            g.lines()
                .any(|l| matches!(l.trim(), ".env" | "/.env" | ".env*" | "*.env"))
        })
        .unwrap_or(false);
    if ignored || !std::path::Path::new(".git").exists() {
        (Status::Ok, ".env exists and is ignored by git".into())
    } else {
        (
            Status::Failure,
            ".env exists but .gitignore does not list it".into(),
        )
    }
}

async fn database_findings(s: &Settings) -> Vec<Finding> {
    let mut f = Findings {
        production: s.environment == Environment::Production,
        list: Vec::new(),
    };
    const DB: &str = "DATABASE";
    if s.is_postgres() {
        f.push(
            DB,
            "DATABASE_URL points at the production database",
            Status::Ok,
            "PostgreSQL",
        );
    } else {
        f.prod_failure(
            DB,
            "DATABASE_URL points at the production database",
            vec!["SQLite file: fine for one instance, not for replicas".into()],
            "",
        );
    }
    let connect = tokio::time::timeout(Duration::from_secs(10), crate::db::connect(&s.db)).await;
    match connect {
        Ok(Ok(db)) => {
            f.push(DB, "Database is reachable", Status::Ok, "connected");
            let at_head = match crate::db::pending_migrations(&db).await {
                Ok(p) if p.is_empty() => {
                    f.push(
                        DB,
                        "All migrations are applied",
                        Status::Ok,
                        "schema at head",
                    );
                    true
                }
                Ok(p) => {
                    f.push(
                        DB,
                        "All migrations are applied",
                        Status::Failure,
                        format!("{} pending: {}", p.len(), p.join(", ")),
                    );
                    false
                }
                Err(e) => {
                    f.push(
                        DB,
                        "All migrations are applied",
                        Status::Failure,
                        format!("cannot read migration status: {e}"),
                    );
                    false
                }
            };
            // What follows reads the schema: only meaningful once it is at head.
            if at_head {
                admin_password_finding(&mut f, &db).await;
                catalog_findings(&mut f, &db, s).await;
            }
        }
        Ok(Err(e)) => {
            f.push(DB, "Database is reachable", Status::Failure, format!("{e}"));
            f.push(
                DB,
                "All migrations are applied",
                Status::Failure,
                "database unreachable",
            );
        }
        Err(_) => {
            f.push(
                DB,
                "Database is reachable",
                Status::Failure,
                "no connection within 10 s",
            );
            f.push(
                DB,
                "All migrations are applied",
                Status::Failure,
                "database unreachable",
            );
        }
    }
    f.push(
        DB,
        "Query logging is configured (optional)",
        Status::Ok,
        if s.db.log_queries {
            format!(
                "queries logged; slow ones (> {:?}) warned",
                s.db.slow_query_threshold
            )
        } else {
            format!(
                "off; slow queries (> {:?}) are still warned",
                s.db.slow_query_threshold
            )
        },
    );
    if let Some(url) = &s.redis_url {
        let ok = preflight_kv::connect_redis(url.expose_secret(), Duration::from_secs(3)).await;
        match ok {
            Ok(_) => f.push(DB, "Redis is reachable", Status::Ok, "connected"),
            Err(e) => f.push(DB, "Redis is reachable", Status::Failure, e.to_string()),
        }
    }
    f.list
}

/// Production refuses to start while an admin has the development password; the admins are
/// in the database, so it is checked here rather than in the SECURITY section.
async fn admin_password_finding(f: &mut Findings, db: &sea_orm::DatabaseConnection) {
    const DB: &str = "DATABASE";
    const ITEM: &str = "No admin has the development password";
    match crate::provision::admins_with_default_password(db).await {
        Ok(weak) if weak.is_empty() => f.push(
            DB,
            ITEM,
            Status::Ok,
            "every enabled admin has a password of their own",
        ),
        Ok(weak) => f.prod_failure(
            DB,
            ITEM,
            vec![format!(
                "{} still log(s) in with the development password",
                weak.join(", ")
            )],
            "",
        ),
        Err(e) => f.push(
            DB,
            ITEM,
            Status::Failure,
            format!("cannot read the users: {e}"),
        ),
    }
}

/// Indexes, the pool against the server's limit and the session timeouts, as the database
/// reports them.
async fn catalog_findings(f: &mut Findings, db: &sea_orm::DatabaseConnection, s: &Settings) {
    use crate::db::catalog;
    const DB: &str = "DATABASE";
    match catalog::unindexed_foreign_keys(db).await {
        Ok(missing) if missing.is_empty() => f.push(
            DB,
            "Indexes are created",
            Status::Ok,
            "every foreign key column leads an index (read from the catalog)",
        ),
        Ok(missing) => f.push(
            DB,
            "Indexes are created",
            Status::Failure,
            format!("foreign keys without an index: {}", missing.join(", ")),
        ),
        Err(e) => f.push(
            DB,
            "Indexes are created",
            Status::Failure,
            format!("cannot read the catalog: {e}"),
        ),
    }
    let pool = format!(
        "pool {}..{} connections",
        s.db.min_connections, s.db.max_connections
    );
    const POOL: &str = "Connection pool fits the database's limit";
    match catalog::connection_limit(db).await {
        Ok(None) => f.push(
            DB,
            POOL,
            Status::Ok,
            format!("{pool} (SQLite: no server limit)"),
        ),
        Ok(Some(limit)) if i64::from(s.db.max_connections) > limit => f.push(
            DB,
            POOL,
            Status::Failure,
            format!("{pool}, but the server accepts only {limit}"),
        ),
        // Replicas, migrations and backups share the limit: one process taking more than
        // half of it leaves too little for a second.
        Ok(Some(limit)) if i64::from(s.db.max_connections) * 2 > limit => f.push(
            DB,
            POOL,
            Status::Warning,
            format!("{pool} of the server's {limit}: no room for a second replica"),
        ),
        Ok(Some(limit)) => f.push(
            DB,
            POOL,
            Status::Ok,
            format!("{pool} of the server's {limit}"),
        ),
        Err(e) => f.push(
            DB,
            POOL,
            Status::Failure,
            format!("cannot read max_connections: {e}"),
        ),
    }
    const TIMEOUTS: &str = "Timeouts are set";
    let configured = format!(
        "connect {:?}, acquire {:?}, idle {:?}",
        s.db.connect_timeout, s.db.acquire_timeout, s.db.idle_timeout
    );
    match catalog::session_timeout(db).await {
        Ok(t) if s.is_postgres() && (t.is_empty() || t == "0") => f.push(
            DB,
            TIMEOUTS,
            Status::Failure,
            format!("{configured}; the session has no statement_timeout"),
        ),
        Ok(t) if s.is_postgres() => f.push(
            DB,
            TIMEOUTS,
            Status::Ok,
            format!("{configured}; statement_timeout {t} (read from the session)"),
        ),
        Ok(t) if t == "0" => f.push(
            DB,
            TIMEOUTS,
            Status::Failure,
            format!("{configured}; SQLite busy_timeout is 0: concurrent writes would fail"),
        ),
        Ok(t) => f.push(
            DB,
            TIMEOUTS,
            Status::Ok,
            format!("{configured}; SQLite busy_timeout {t} ms (read from the session)"),
        ),
        Err(e) => f.push(
            DB,
            TIMEOUTS,
            Status::Failure,
            format!("cannot read the session timeout: {e}"),
        ),
    }
}

pub async fn run(settings: &mut Settings, json: bool) -> ExitCode {
    // Doctor reports on the configuration as given: development keys are not generated here.
    let mut findings = security_findings(settings);
    findings.extend(database_findings(settings).await);
    let failed = findings.iter().any(|f| f.status == Status::Failure);
    if json {
        let doc = serde_json::json!({
            "environment": settings.environment.as_str(),
            "ok": !failed,
            "findings": findings,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        let mut section = "";
        for f in &findings {
            if f.section != section {
                section = f.section;
                println!("{section}");
            }
            let mark = match f.status {
                Status::Ok => "ok     ",
                Status::Warning => "warning",
                Status::Failure => "FAILURE",
            };
            println!("  [{mark}] {}: {}", f.item, f.reason);
        }
        println!(
            "{} ok, {} warning(s), {} failure(s)",
            findings.iter().filter(|f| f.status == Status::Ok).count(),
            findings
                .iter()
                .filter(|f| f.status == Status::Warning)
                .count(),
            findings
                .iter()
                .filter(|f| f.status == Status::Failure)
                .count()
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
