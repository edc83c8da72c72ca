//! Continuous verification: when each automated item runs next and who holds it
//! (`check_schedule`), every run with its evidence (`check_runs`, recreated: nothing wrote the
//! first version), on-demand run requests, and per-service probe settings (interval, monitoring
//! endpoints; their credentials are a ciphertext like the service's probe credentials).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Services {
    Table,
    Id,
    ProbeIntervalS,
    Monitoring,
    MonitoringCredentials,
}

#[derive(DeriveIden)]
enum Reviews {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ReviewItems {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CheckSchedule {
    Table,
    ReviewItemId,
    ReviewId,
    ServiceId,
    NextRunAt,
    RequestedAt,
    LeaseOwner,
    LeaseUntil,
}

#[derive(DeriveIden)]
enum CheckRuns {
    Table,
    Id,
    ReviewItemId,
    ReviewId,
    ServiceId,
    ItemKey,
    Kind,
    Trigger,
    StartedAt,
    FinishedAt,
    Outcome,
    Reason,
    Evidence,
    DurationMs,
}

#[derive(DeriveIden)]
enum RunRequests {
    Table,
    Id,
    ServiceId,
    ReviewItemId,
    RequestedBy,
    CreatedAt,
    Total,
}

#[derive(DeriveIden)]
enum RunRequestItems {
    Table,
    RequestId,
    ReviewItemId,
    CheckRunId,
    CreatedAt,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn index(
    m: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<impl IntoIden>,
) -> Result<(), DbErr> {
    let mut stmt = Index::create().name(name).table(table).to_owned();
    for c in cols {
        stmt.col(c);
    }
    m.create_index(stmt).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for col in [
            ColumnDef::new(Services::ProbeIntervalS)
                .integer()
                .null()
                .to_owned(),
            ColumnDef::new(Services::Monitoring)
                .json()
                .null()
                .to_owned(),
            ColumnDef::new(Services::MonitoringCredentials)
                .text()
                .null()
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Services::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }

        m.drop_table(Table::drop().table(CheckRuns::Table).to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table(CheckRuns::Table)
                .col(uuid(CheckRuns::Id).primary_key())
                .col(uuid(CheckRuns::ReviewItemId))
                .col(uuid(CheckRuns::ReviewId))
                .col(uuid(CheckRuns::ServiceId))
                .col(string_len(CheckRuns::ItemKey, 400))
                .col(string_len(CheckRuns::Kind, 32))
                .col(string_len(CheckRuns::Trigger, 16))
                .col(timestamp_with_time_zone(CheckRuns::StartedAt))
                .col(timestamp_with_time_zone(CheckRuns::FinishedAt))
                .col(string_len(CheckRuns::Outcome, 16))
                .col(text(CheckRuns::Reason))
                .col(json(CheckRuns::Evidence))
                .col(big_integer(CheckRuns::DurationMs))
                .foreign_key(&mut fk(
                    "fk_check_runs_review_item",
                    (CheckRuns::Table, CheckRuns::ReviewItemId),
                    (ReviewItems::Table, ReviewItems::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_check_runs_service",
                    (CheckRuns::Table, CheckRuns::ServiceId),
                    (Services::Table, Services::Id),
                ))
                .to_owned(),
        )
        .await?;
        // History of an item and of a service, newest first.
        index(
            m,
            "ix_check_runs_item_started",
            CheckRuns::Table,
            vec![CheckRuns::ReviewItemId, CheckRuns::StartedAt],
        )
        .await?;
        index(
            m,
            "ix_check_runs_service_started",
            CheckRuns::Table,
            vec![CheckRuns::ServiceId, CheckRuns::StartedAt],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CheckSchedule::Table)
                .col(uuid(CheckSchedule::ReviewItemId).primary_key())
                .col(uuid(CheckSchedule::ReviewId))
                .col(uuid(CheckSchedule::ServiceId))
                .col(timestamp_with_time_zone(CheckSchedule::NextRunAt))
                .col(timestamp_with_time_zone_null(CheckSchedule::RequestedAt))
                .col(string_len_null(CheckSchedule::LeaseOwner, 100))
                .col(timestamp_with_time_zone_null(CheckSchedule::LeaseUntil))
                .foreign_key(&mut fk(
                    "fk_check_schedule_review_item",
                    (CheckSchedule::Table, CheckSchedule::ReviewItemId),
                    (ReviewItems::Table, ReviewItems::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_check_schedule_review",
                    (CheckSchedule::Table, CheckSchedule::ReviewId),
                    (Reviews::Table, Reviews::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_check_schedule_service",
                    (CheckSchedule::Table, CheckSchedule::ServiceId),
                    (Services::Table, Services::Id),
                ))
                .to_owned(),
        )
        .await?;
        // The claim scans due rows in order.
        index(
            m,
            "ix_check_schedule_next_run",
            CheckSchedule::Table,
            vec![CheckSchedule::NextRunAt],
        )
        .await?;
        index(
            m,
            "ix_check_schedule_review",
            CheckSchedule::Table,
            vec![CheckSchedule::ReviewId],
        )
        .await?;
        index(
            m,
            "ix_check_schedule_service",
            CheckSchedule::Table,
            vec![CheckSchedule::ServiceId],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RunRequests::Table)
                .col(uuid(RunRequests::Id).primary_key())
                .col(uuid(RunRequests::ServiceId))
                .col(uuid_null(RunRequests::ReviewItemId))
                .col(string_len(RunRequests::RequestedBy, 320))
                .col(timestamp_with_time_zone(RunRequests::CreatedAt))
                .col(integer(RunRequests::Total))
                .foreign_key(&mut fk(
                    "fk_run_requests_service",
                    (RunRequests::Table, RunRequests::ServiceId),
                    (Services::Table, Services::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_run_requests_service",
            RunRequests::Table,
            vec![RunRequests::ServiceId],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RunRequestItems::Table)
                .col(uuid(RunRequestItems::RequestId))
                .col(uuid(RunRequestItems::ReviewItemId))
                .col(uuid_null(RunRequestItems::CheckRunId))
                .col(timestamp_with_time_zone(RunRequestItems::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(RunRequestItems::RequestId)
                        .col(RunRequestItems::ReviewItemId),
                )
                .foreign_key(&mut fk(
                    "fk_run_request_items_request",
                    (RunRequestItems::Table, RunRequestItems::RequestId),
                    (RunRequests::Table, RunRequests::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_run_request_items_review_item",
                    (RunRequestItems::Table, RunRequestItems::ReviewItemId),
                    (ReviewItems::Table, ReviewItems::Id),
                ))
                .to_owned(),
        )
        .await?;
        // Finishing a run fills the open requests of its item.
        index(
            m,
            "ix_run_request_items_item",
            RunRequestItems::Table,
            vec![RunRequestItems::ReviewItemId, RunRequestItems::CheckRunId],
        )
        .await
    }

    /// Leaves `check_runs` in its new shape: its first version never held a row.
    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RunRequestItems::Table.into_iden(),
            RunRequests::Table.into_iden(),
            CheckSchedule::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for col in [
            Services::MonitoringCredentials.into_iden(),
            Services::Monitoring.into_iden(),
            Services::ProbeIntervalS.into_iden(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Services::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
