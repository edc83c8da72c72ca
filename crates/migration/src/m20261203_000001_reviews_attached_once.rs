//! A checklist is attached to a service at most once at a time: a partial unique index on the
//! live reviews (deleting a review frees the pair), so that two concurrent attaches cannot both
//! win. The server reports a violation as the 409 it always answered.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Reviews {
    Table,
    ServiceId,
    ChecklistId,
    DeletedAt,
}

const INDEX: &str = "ux_reviews_service_checklist_live";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(INDEX)
                .table(Reviews::Table)
                .col(Reviews::ServiceId)
                .col(Reviews::ChecklistId)
                .unique()
                .and_where(Expr::col(Reviews::DeletedAt).is_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(INDEX).table(Reviews::Table).to_owned())
            .await
    }
}
