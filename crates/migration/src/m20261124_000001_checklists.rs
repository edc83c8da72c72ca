//! Checklist templates, services, reviews (a service's copy of a template version), their
//! items' states and check runs.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Checklists {
    Table,
    Id,
    Name,
    Builtin,
    Version,
    Source,
    Document,
    ItemCount,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    ArchivedAt,
}

#[derive(DeriveIden)]
enum Services {
    Table,
    Id,
    Name,
    Environment,
    BaseUrl,
    Description,
    /// Encrypted JSON array of incident contacts.
    Contacts,
    /// Encrypted JSON object of probe credentials (header name → value).
    Credentials,
    /// Names of the credential headers, in clear, so reads can say what is configured
    /// without decrypting the values.
    CredentialHeaders,
    Version,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum ServiceOwners {
    Table,
    Id,
    ServiceId,
    Owner,
}

#[derive(DeriveIden)]
enum Reviews {
    Table,
    Id,
    ServiceId,
    ChecklistId,
    ChecklistVersion,
    Title,
    Document,
    Version,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum ReviewItems {
    Table,
    Id,
    ReviewId,
    Key,
    Position,
    CheckSpec,
    ReAttestDays,
    RequiresComment,
    Record,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CheckRuns {
    Table,
    Id,
    ReviewItemId,
    StartedAt,
    FinishedAt,
    Status,
    Evidence,
    DurationMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Checklists::Table)
                .col(uuid(Checklists::Id).primary_key())
                .col(string_len(Checklists::Name, 200))
                .col(boolean(Checklists::Builtin).default(false))
                .col(integer(Checklists::Version).default(1))
                .col(text(Checklists::Source))
                .col(json(Checklists::Document))
                .col(integer(Checklists::ItemCount).default(0))
                .col(string_len_null(Checklists::CreatedBy, 320))
                .col(timestamp_with_time_zone(Checklists::CreatedAt))
                .col(timestamp_with_time_zone(Checklists::UpdatedAt))
                .col(timestamp_with_time_zone_null(Checklists::ArchivedAt))
                .to_owned(),
        )
        .await?;
        // Names are unique among live templates; an archived one frees its name.
        m.create_index(
            Index::create()
                .name("ux_checklists_name_active")
                .table(Checklists::Table)
                .col(Checklists::Name)
                .unique()
                .and_where(Expr::col(Checklists::ArchivedAt).is_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_checklists_builtin")
                .table(Checklists::Table)
                .col(Checklists::Builtin)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Services::Table)
                .col(uuid(Services::Id).primary_key())
                .col(string_len(Services::Name, 200))
                .col(string_len(Services::Environment, 32))
                .col(string_len_null(Services::BaseUrl, 2048))
                .col(text_null(Services::Description))
                .col(text_null(Services::Contacts))
                .col(text_null(Services::Credentials))
                .col(json_null(Services::CredentialHeaders))
                .col(integer(Services::Version).default(1))
                .col(timestamp_with_time_zone(Services::CreatedAt))
                .col(timestamp_with_time_zone(Services::UpdatedAt))
                .col(timestamp_with_time_zone_null(Services::DeletedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_services_name_active")
                .table(Services::Table)
                .col(Services::Name)
                .unique()
                .and_where(Expr::col(Services::DeletedAt).is_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_services_environment")
                .table(Services::Table)
                .col(Services::Environment)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ServiceOwners::Table)
                .col(uuid(ServiceOwners::Id).primary_key())
                .col(uuid(ServiceOwners::ServiceId))
                .col(string_len(ServiceOwners::Owner, 320))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_service_owners_service")
                        .from(ServiceOwners::Table, ServiceOwners::ServiceId)
                        .to(Services::Table, Services::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_service_owners_service_owner")
                .table(ServiceOwners::Table)
                .col(ServiceOwners::ServiceId)
                .col(ServiceOwners::Owner)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_service_owners_owner")
                .table(ServiceOwners::Table)
                .col(ServiceOwners::Owner)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Reviews::Table)
                .col(uuid(Reviews::Id).primary_key())
                .col(uuid(Reviews::ServiceId))
                .col(uuid(Reviews::ChecklistId))
                .col(integer(Reviews::ChecklistVersion))
                .col(string_len(Reviews::Title, 200))
                .col(json(Reviews::Document))
                .col(integer(Reviews::Version).default(1))
                .col(string_len_null(Reviews::CreatedBy, 320))
                .col(timestamp_with_time_zone(Reviews::CreatedAt))
                .col(timestamp_with_time_zone(Reviews::UpdatedAt))
                .col(timestamp_with_time_zone_null(Reviews::DeletedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_reviews_service")
                        .from(Reviews::Table, Reviews::ServiceId)
                        .to(Services::Table, Services::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_reviews_checklist")
                        .from(Reviews::Table, Reviews::ChecklistId)
                        .to(Checklists::Table, Checklists::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("ix_reviews_service_id", Reviews::ServiceId),
            ("ix_reviews_checklist_id", Reviews::ChecklistId),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(Reviews::Table)
                    .col(col)
                    .to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table(ReviewItems::Table)
                .col(uuid(ReviewItems::Id).primary_key())
                .col(uuid(ReviewItems::ReviewId))
                .col(string_len(ReviewItems::Key, 400))
                .col(integer(ReviewItems::Position))
                .col(json_null(ReviewItems::CheckSpec))
                .col(integer_null(ReviewItems::ReAttestDays))
                .col(boolean(ReviewItems::RequiresComment).default(false))
                .col(json(ReviewItems::Record))
                .col(integer(ReviewItems::Version).default(1))
                .col(timestamp_with_time_zone(ReviewItems::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_review_items_review")
                        .from(ReviewItems::Table, ReviewItems::ReviewId)
                        .to(Reviews::Table, Reviews::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_review_items_review_key")
                .table(ReviewItems::Table)
                .col(ReviewItems::ReviewId)
                .col(ReviewItems::Key)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CheckRuns::Table)
                .col(uuid(CheckRuns::Id).primary_key())
                .col(uuid(CheckRuns::ReviewItemId))
                .col(timestamp_with_time_zone(CheckRuns::StartedAt))
                .col(timestamp_with_time_zone_null(CheckRuns::FinishedAt))
                .col(string_len(CheckRuns::Status, 16))
                .col(json_null(CheckRuns::Evidence))
                .col(big_integer_null(CheckRuns::DurationMs))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_check_runs_review_item")
                        .from(CheckRuns::Table, CheckRuns::ReviewItemId)
                        .to(ReviewItems::Table, ReviewItems::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // Latest run of an item: (review_item_id, started_at DESC) scans.
        m.create_index(
            Index::create()
                .name("ix_check_runs_item_started")
                .table(CheckRuns::Table)
                .col(CheckRuns::ReviewItemId)
                .col(CheckRuns::StartedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CheckRuns::Table.into_iden(),
            ReviewItems::Table.into_iden(),
            Reviews::Table.into_iden(),
            ServiceOwners::Table.into_iden(),
            Services::Table.into_iden(),
            Checklists::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
