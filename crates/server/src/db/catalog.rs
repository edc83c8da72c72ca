//! What the database itself says about the schema and the connections: read by `doctor`, so
//! that what it reports is checked rather than assumed.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

async fn rows(db: &DatabaseConnection, sql: &str) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
}

/// (table, column) of every foreign key whose column does not lead an index.
pub async fn unindexed_foreign_keys(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT c.conrelid::regclass::text AS tbl, a.attname::text AS col \
             FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             WHERE c.contype = 'f' AND NOT EXISTS ( \
               SELECT 1 FROM pg_index i \
               WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]) \
             ORDER BY 1, 2"
        }
        _ => {
            "SELECT m.name AS tbl, f.\"from\" AS col \
             FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table' AND NOT EXISTS ( \
               SELECT 1 FROM pragma_index_list(m.name) il \
               JOIN pragma_index_info(il.name) ii \
               WHERE ii.seqno = 0 AND ii.name = f.\"from\") \
             ORDER BY 1, 2"
        }
    };
    let mut out = Vec::new();
    for row in rows(db, sql).await? {
        let table: String = row.try_get("", "tbl")?;
        let column: String = row.try_get("", "col")?;
        out.push(format!("{table}.{column}"));
    }
    Ok(out)
}

/// How many connections the server accepts from ordinary roles (PostgreSQL's
/// `max_connections` less `superuser_reserved_connections`); `None` on SQLite.
pub async fn connection_limit(db: &DatabaseConnection) -> Result<Option<i64>, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let sql = "SELECT (SELECT setting::bigint FROM pg_settings WHERE name = 'max_connections') \
               - (SELECT setting::bigint FROM pg_settings \
                  WHERE name = 'superuser_reserved_connections') AS n";
    let Some(row) = rows(db, sql).await?.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some(row.try_get("", "n")?))
}

/// The statement timeout (PostgreSQL `statement_timeout`) or busy timeout (SQLite
/// `busy_timeout`, in milliseconds) a pool connection actually has, as the database reports
/// it.
pub async fn session_timeout(db: &DatabaseConnection) -> Result<String, DbErr> {
    let (sql, column) = match db.get_database_backend() {
        DbBackend::Postgres => ("SELECT current_setting('statement_timeout') AS t", "t"),
        _ => ("SELECT timeout AS t FROM pragma_busy_timeout", "t"),
    };
    let Some(row) = rows(db, sql).await?.into_iter().next() else {
        return Ok(String::new());
    };
    match db.get_database_backend() {
        DbBackend::Postgres => row.try_get("", column),
        _ => Ok(row.try_get::<i64>("", column)?.to_string()),
    }
}
