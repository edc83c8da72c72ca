//! The built-in "Production readiness" template, in preflight's own words.
//!
//! It covers every topic of the reference checklist (`examples/seed/production-checklist.*.md`)
//! and carries a check on each item a machine can verify from outside the service. Paths such
//! as `/api/v1/auth/login` are preflight's own conventions; teams adjust them per service.

/// Markdown source of the built-in "Production readiness" checklist.
pub const PRODUCTION_READINESS: &str = r#"# Production readiness

**Template:** preflight built-in  
**Revision:** 1

Each line is one fact a reviewer can confirm before real users arrive. Lines with a hidden
`check` comment are verified by preflight itself; the others need a person to sign them off.

---

## 🔐 Secrets and configuration

### Environment
- [ ] `SECRET_KEY` comes from the environment: long, random, never a default value
- [ ] `ENCRYPTION_KEY` is a separate 32-byte key, different from `SECRET_KEY`
- [ ] The bootstrap `ADMIN_PASSWORD` has been replaced with a strong one
- [ ] The process runs with `ENVIRONMENT=production`
- [ ] `ALLOWED_ORIGINS` names only the real front-end origins <!-- check: cors -->
- [ ] `DATABASE_URL` points at the production database
- [ ] `REDIS_URL` points at the production Redis

### Security review
- [ ] No secret is stored in the repository; all come from the environment or a secret store
- [ ] `.env` files are ignored by git and absent from its history
- [ ] Cross-origin access is an allow-list, never `*` <!-- check: cors -->
- [ ] Login and other sensitive endpoints are rate limited <!-- check: rate_limit path=/api/v1/auth/login method=POST -->
- [ ] HTTPS is served with a certificate valid for at least two more weeks <!-- check: tls min_days=14 -->
- [ ] Responses carry protective security headers <!-- check: security_headers -->

---

## 🗃️ Database

### Schema
- [ ] Every migration is applied and the schema is at head <!-- check: health -->
- [ ] Foreign keys and lookup columns have indexes
- [ ] Database backups run, the last one less than 25 hours ago <!-- check: promql query='time() - preflight_backup_last_success_timestamp_seconds < 90000' -->

### Connections
- [ ] The connection pool size fits the database's connection limit
- [ ] Connect, statement and idle timeouts are set
- [ ] Query logging (or slow-query warnings) can be switched on (optional)

---

## 📦 Containers and infrastructure

### Compose and orchestration
- [ ] The compose file or manifests were reviewed for production use
- [ ] All state lives on named volumes
- [ ] Every container has a health check, and the service reports live and ready <!-- check: health -->
- [ ] CPU and memory limits are set for each container (optional)

### Observability stack
- [ ] Prometheus scrapes the service <!-- check: prometheus_target -->
- [ ] Grafana has the service dashboard <!-- check: grafana_dashboard -->
- [ ] Alertmanager routes the service's alerts to real receivers <!-- check: alertmanager_receivers -->
- [ ] Loki receives the service's logs <!-- check: loki_logs -->

---

## 🧪 Testing

### Before release
- [ ] The automated test suite passes on the release commit
- [ ] End-to-end tests pass against staging
- [ ] Critical user journeys were tried by hand

### After release
- [ ] Liveness and readiness endpoints answer 2xx <!-- check: health -->
- [ ] The API answers and its description is served <!-- check: http path=/openapi.json status=200 condition="latency < 1s" -->
- [ ] Protected endpoints refuse anonymous requests <!-- check: auth_required paths=/api/v1/me -->
- [ ] Caching serves repeated reads (hits visible in the metrics)
- [ ] Rate limiting answers 429 with `Retry-After` <!-- check: rate_limit path=/api/v1/auth/login method=POST -->

---

## 📈 Metrics and logs

### Metrics
- [ ] `/metrics` exposes valid Prometheus metrics <!-- check: metrics -->
- [ ] The service's dashboard is provisioned in Grafana <!-- check: grafana_dashboard -->
- [ ] Alert rules for the service are loaded in Prometheus <!-- check: prometheus_rules -->

### Logs
- [ ] Log lines arrive in Loki <!-- check: loki_logs window=15m -->
- [ ] Logs can be searched from Grafana
- [ ] The log level suits production: no debug noise, no secrets

---

## 💾 Backups

### Backup and restore
- [ ] Backups run on their own and the last success is under 25 hours old <!-- check: promql query='time() - preflight_backup_last_success_timestamp_seconds < 90000' -->
- [ ] The backup schedule is written down and matches what runs
- [ ] A restore from the latest backup was rehearsed recently <!-- manual: re_attest_days=90 requires_comment=true -->
- [ ] Retention keeps enough daily and weekly copies, stored away from the host

---

## 📚 Documentation

### For developers
- [ ] The README says what the service is and how to run it
- [ ] The deployment guide matches the current release
- [ ] The API reference is published <!-- check: openapi -->

### For operators
- [ ] Runbooks explain the dashboards and every alert
- [ ] Runbooks explain recovery, including restore from backup
- [ ] Incident contacts and escalation paths are listed

---

## 🚢 Release

### Preparation
- [ ] The production host has capacity and current OS updates
- [ ] The container runtime is installed and configured
- [ ] Firewall and network rules let through only the traffic needed
- [ ] DNS records point at the service, where it has a public name

### Rollout
- [ ] Production settings are filled in (`.env` or the secret store)
- [ ] Containers run the release image
- [ ] Migrations ran against the production database <!-- check: health -->
- [ ] Every component of the stack is up <!-- check: prometheus_target -->

### Verification
- [ ] Health checks pass in production <!-- check: health -->
- [ ] Metrics flow into Prometheus <!-- check: prometheus_target -->
- [ ] Logs flow into Loki <!-- check: loki_logs -->
- [ ] Alertmanager delivers to real receivers, not a null route <!-- check: alertmanager_receivers -->

---

## 🏁 Final review

### Functionality
- [ ] Critical features work in production
- [ ] Response times meet the agreed targets <!-- check: http path=/health/live condition="latency < 500ms" -->
- [ ] No unexplained errors in the logs since the release

### Security
- [ ] Every non-public endpoint requires authentication <!-- check: auth_required paths=/api/v1/me -->
- [ ] Sensitive fields are encrypted at rest
- [ ] Rate limits are active in production <!-- check: rate_limit path=/api/v1/auth/login method=POST -->

### Monitoring
- [ ] `/metrics` answers valid Prometheus text in production <!-- check: metrics -->
- [ ] The production dashboard exists in Grafana <!-- check: grafana_dashboard -->
- [ ] Alerts are defined for the service <!-- check: prometheus_rules -->

---

## 🗓️ After launch

### First week
- [ ] Someone reads the logs every day
- [ ] Someone reviews the metrics every day
- [ ] Backups are confirmed every day <!-- check: promql query='time() - preflight_backup_last_success_timestamp_seconds < 90000' -->
- [ ] Alert receivers are in place, if they were still missing <!-- check: alertmanager_receivers -->

### Routine
- [ ] Backups are verified every week <!-- manual: re_attest_days=7 -->
- [ ] Dependencies are updated every month <!-- manual: re_attest_days=31 -->
- [ ] A security review is held every quarter <!-- manual: re_attest_days=92 -->
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_checklist, to_markdown};

    #[test]
    fn parses_with_enough_items_and_round_trips() {
        let checklist = parse_checklist(PRODUCTION_READINESS).unwrap();
        assert_eq!(checklist.title.as_deref(), Some("Production readiness"));
        assert!(checklist.items.len() >= 40, "{}", checklist.items.len());
        // Ten sections, like the reference checklist.
        assert_eq!(checklist.sections.len(), 10);
        assert!(checklist.sections.iter().all(|s| !s.groups.is_empty()));
        assert_eq!(checklist.items.iter().filter(|i| i.optional).count(), 2);
        assert_eq!(to_markdown(&checklist), PRODUCTION_READINESS);
    }

    #[test]
    fn covers_every_seed_topic() {
        let checklist = parse_checklist(PRODUCTION_READINESS).unwrap();
        let mut all = String::new();
        for section in &checklist.sections {
            all.push_str(&section.title);
            all.push('\n');
            all.push_str(&section.groups.join("\n"));
        }
        for item in &checklist.items {
            all.push('\n');
            all.push_str(&item.text);
        }
        let all = all.to_lowercase();
        let topics = [
            // Security: environment variables and review.
            "secret_key",
            "encryption_key",
            "admin_password",
            "environment=production",
            "allowed_origins",
            "database_url",
            "redis_url",
            "`.env`",
            "rate limit",
            "https",
            // Database: migrations, indexes, backups, pool, timeouts, query logging.
            "migration",
            "indexes",
            "backups",
            "connection pool",
            "timeouts",
            "query logging",
            // Containers: compose, volumes, health checks, limits; the monitoring stack.
            "compose",
            "volumes",
            "health check",
            "memory limits",
            "prometheus",
            "grafana",
            "alertmanager",
            "loki",
            // Testing before and after deployment.
            "test suite",
            "end-to-end",
            "by hand",
            "caching",
            "anonymous",
            // Metrics and logging.
            "/metrics",
            "dashboards",
            "alert rules",
            "log level",
            // Backups.
            "schedule",
            "restore",
            "retention",
            // Documentation.
            "readme",
            "deployment guide",
            "api reference",
            "runbooks",
            "incident contacts",
            // Deployment: preparation, rollout, verification.
            "container runtime",
            "network",
            "dns",
            "release image",
            // Final check.
            "critical features",
            "response times",
            "errors in the logs",
            "encrypted",
            // After launch.
            "every day",
            "every week",
            "dependencies",
            "security review",
        ];
        for topic in topics {
            assert!(all.contains(topic), "template does not mention {topic:?}");
        }
    }

    #[test]
    fn machine_verifiable_items_carry_checks() {
        let checklist = parse_checklist(PRODUCTION_READINESS).unwrap();
        let kind_of = |needle: &str| {
            let item = checklist
                .items
                .iter()
                .find(|i| i.text.contains(needle))
                .unwrap_or_else(|| panic!("no item with {needle:?}"));
            item.check.as_ref().map(|c| c.kind())
        };
        let expected = [
            ("`ALLOWED_ORIGINS`", Some("cors")),
            ("Login and other sensitive", Some("rate_limit")),
            ("HTTPS is served", Some("tls")),
            ("security headers", Some("security_headers")),
            ("schema is at head", Some("health")),
            ("the last one less than 25 hours ago", Some("promql")),
            ("Prometheus scrapes", Some("prometheus_target")),
            (
                "Grafana has the service dashboard",
                Some("grafana_dashboard"),
            ),
            ("Alertmanager routes", Some("alertmanager_receivers")),
            ("Loki receives", Some("loki_logs")),
            ("Liveness and readiness", Some("health")),
            ("description is served", Some("http")),
            ("refuse anonymous", Some("auth_required")),
            ("`/metrics`", Some("metrics")),
            (
                "Alert rules for the service are loaded",
                Some("prometheus_rules"),
            ),
            ("last success is under 25 hours", Some("promql")),
            ("API reference", Some("openapi")),
            ("Response times", Some("http")),
            // Things only a person can confirm stay manual.
            ("`SECRET_KEY` comes from", None),
            ("tried by hand", None),
            ("Incident contacts", None),
        ];
        for (needle, kind) in expected {
            assert_eq!(kind_of(needle), kind, "{needle}");
        }
        let used: std::collections::BTreeSet<_> = checklist
            .items
            .iter()
            .filter_map(|i| i.check.as_ref())
            .map(|c| c.kind())
            .collect();
        assert_eq!(
            used.len(),
            crate::kinds().len(),
            "every check kind is used: {used:?}"
        );
        let checked = checklist.items.iter().filter(|i| i.check.is_some()).count();
        assert!(checked >= 30, "{checked} items carry checks");
        let restore = checklist
            .items
            .iter()
            .find(|i| i.text.contains("restore from the latest"))
            .unwrap();
        assert_eq!(
            (restore.re_attest_days, restore.requires_comment),
            (Some(90), true)
        );
    }
}
