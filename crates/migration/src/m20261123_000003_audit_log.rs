use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    ActorId,
    Actor,
    Action,
    TargetType,
    TargetId,
    Before,
    After,
    Comment,
    RequestId,
}

/// On PostgreSQL the audit log is append-only at the database level too: a trigger refuses
/// UPDATE and DELETE, so not even a bug or a stray SQL session can rewrite history.
const PG_APPEND_ONLY: &str = r#"
CREATE OR REPLACE FUNCTION preflight_audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION preflight_audit_log_append_only();
"#;

/// SQLite has no procedural language, but triggers can still refuse changes.
const SQLITE_APPEND_ONLY: [&str; 2] = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END;",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END;",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(big_pk_auto(AuditLog::Id))
                .col(timestamp_with_time_zone(AuditLog::At))
                .col(uuid_null(AuditLog::ActorId))
                .col(string_len(AuditLog::Actor, 320))
                .col(string_len(AuditLog::Action, 64))
                .col(string_len(AuditLog::TargetType, 64))
                .col(string_len(AuditLog::TargetId, 64))
                .col(json_null(AuditLog::Before))
                .col(json_null(AuditLog::After))
                .col(text_null(AuditLog::Comment))
                .col(string_len_null(AuditLog::RequestId, 128))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_audit_log_target")
                .table(AuditLog::Table)
                .col(AuditLog::TargetType)
                .col(AuditLog::TargetId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_audit_log_actor_id")
                .table(AuditLog::Table)
                .col(AuditLog::ActorId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_audit_log_at")
                .table(AuditLog::Table)
                .col(AuditLog::At)
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        match db.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(PG_APPEND_ONLY).await?;
            }
            DbBackend::Sqlite => {
                for stmt in SQLITE_APPEND_ONLY {
                    db.execute_unprepared(stmt).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log; DROP FUNCTION IF EXISTS preflight_audit_log_append_only();",
            )
            .await?;
        }
        m.drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await
    }
}
