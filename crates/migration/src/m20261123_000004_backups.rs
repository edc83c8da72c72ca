use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BackupRuns {
    Table,
    Id,
    StartedAt,
    FinishedAt,
    Status,
    Trigger,
    File,
    SizeBytes,
    DurationMs,
    Error,
}

/// Named leases so that, with several replicas, a scheduled job runs once.
#[derive(DeriveIden)]
enum JobLocks {
    Table,
    Name,
    Holder,
    AcquiredAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(BackupRuns::Table)
                .col(uuid(BackupRuns::Id).primary_key())
                .col(timestamp_with_time_zone(BackupRuns::StartedAt))
                .col(timestamp_with_time_zone(BackupRuns::FinishedAt))
                .col(string_len(BackupRuns::Status, 16))
                .col(string_len(BackupRuns::Trigger, 16))
                .col(string_len_null(BackupRuns::File, 512))
                .col(big_integer(BackupRuns::SizeBytes).default(0))
                .col(big_integer(BackupRuns::DurationMs).default(0))
                .col(text_null(BackupRuns::Error))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_backup_runs_status_finished_at")
                .table(BackupRuns::Table)
                .col(BackupRuns::Status)
                .col(BackupRuns::FinishedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(JobLocks::Table)
                .col(string_len(JobLocks::Name, 200).primary_key())
                .col(string_len(JobLocks::Holder, 200))
                .col(timestamp_with_time_zone(JobLocks::AcquiredAt))
                .col(timestamp_with_time_zone(JobLocks::ExpiresAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(JobLocks::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(BackupRuns::Table).to_owned())
            .await
    }
}
