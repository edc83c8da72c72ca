//! Reads the database catalog: every foreign key and every lookup column has an index.

use std::collections::BTreeSet;
use std::process::Command;

use crate::harness::{self, TestApp};

/// Columns the code looks rows up by (besides primary keys and foreign keys).
const LOOKUP_COLUMNS: &[(&str, &str)] = &[
    ("users", "email"),
    ("refresh_tokens", "token_hash"),
    ("refresh_tokens", "family_id"),
    ("api_tokens", "token_hash"),
    ("audit_log", "target_type"),
    ("audit_log", "actor_id"),
    ("checklists", "name"),
    ("checklists", "builtin"),
    ("services", "name"),
    ("services", "environment"),
    ("service_owners", "owner"),
    ("review_items", "review_id"),
];

fn sqlite(path: &str, sql: &str) -> Vec<Vec<String>> {
    let out = Command::new("sqlite3")
        .args([path, "-separator", "|", sql])
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.split('|').map(str::to_owned).collect())
            .collect(),
        _ => panic!("sqlite3 CLI is required (apt-get install sqlite3)"),
    }
}

/// (table, first indexed column) pairs and foreign keys as (table, column).
/// (table, column) pairs.
type Columns = Vec<(String, String)>;

fn catalog(app: &TestApp) -> (BTreeSet<(String, String)>, Columns) {
    let mut leading = BTreeSet::new();
    let mut fks = Vec::new();
    if harness::use_postgres() {
        let rows = harness::psql_on(
            &app.database_url,
            "SELECT t.relname, a.attname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] \
             JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'public'",
        );
        for l in rows.lines() {
            if let Some((t, c)) = l.split_once('|') {
                leading.insert((t.to_owned(), c.to_owned()));
            }
        }
        let rows = harness::psql_on(
            &app.database_url,
            "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.contype = 'f'",
        );
        for l in rows.lines() {
            if let Some((t, c)) = l.split_once('|') {
                fks.push((t.to_owned(), c.to_owned()));
            }
        }
    } else {
        let path = app
            .database_url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let tables = sqlite(
            &path,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        );
        for t in tables.iter().map(|r| r[0].clone()) {
            for idx in sqlite(&path, &format!("SELECT name FROM pragma_index_list('{t}')")) {
                let cols = sqlite(
                    &path,
                    &format!(
                        "SELECT name FROM pragma_index_info('{}') ORDER BY seqno",
                        idx[0]
                    ),
                );
                if let Some(first) = cols.first() {
                    leading.insert((t.clone(), first[0].clone()));
                }
            }
            // INTEGER PRIMARY KEY / rowid tables have no index entry for the key; count it.
            for pk in sqlite(
                &path,
                &format!("SELECT name FROM pragma_table_info('{t}') WHERE pk = 1"),
            ) {
                leading.insert((t.clone(), pk[0].clone()));
            }
            for fk in sqlite(
                &path,
                &format!("SELECT \"from\" FROM pragma_foreign_key_list('{t}')"),
            ) {
                fks.push((t.clone(), fk[0].clone()));
            }
        }
    }
    (leading, fks)
}

#[tokio::test]
async fn every_foreign_key_and_lookup_column_is_indexed() {
    let app = TestApp::spawn().await;
    let (leading, fks) = catalog(&app);
    assert!(!fks.is_empty(), "the schema has foreign keys to check");
    for (t, c) in &fks {
        assert!(
            leading.contains(&(t.clone(), c.clone())),
            "foreign key {t}.{c} has no index"
        );
    }
    for (t, c) in LOOKUP_COLUMNS {
        assert!(
            leading.contains(&((*t).to_owned(), (*c).to_owned())),
            "lookup column {t}.{c} has no index"
        );
    }
}

#[tokio::test]
async fn audit_log_refuses_update_and_delete() {
    let app = TestApp::spawn().await;
    // Bootstrapping the admin wrote an entry.
    if harness::use_postgres() {
        let n = harness::psql_on(&app.database_url, "SELECT count(*) FROM audit_log");
        assert!(n.parse::<i64>().unwrap() >= 1);
        for sql in ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"] {
            let out = Command::new("psql")
                .args([
                    app.database_url.as_str(),
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    sql,
                ])
                .output()
                .unwrap();
            assert!(!out.status.success(), "{sql} must be refused");
            assert!(String::from_utf8_lossy(&out.stderr).contains("append-only"));
        }
    } else {
        let path = app
            .database_url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        for sql in ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"] {
            let out = Command::new("sqlite3")
                .args([path.as_str(), sql])
                .output()
                .expect("sqlite3 CLI");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("append-only"),
                "{sql} must be refused"
            );
        }
        let n = sqlite(&path, "SELECT count(*) FROM audit_log");
        assert!(n[0][0].parse::<i64>().unwrap() >= 1, "entries survive");
    }
}
