use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    UserId,
    Name,
    TokenHash,
    Scopes,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(uuid(RefreshTokens::Id).primary_key())
                .col(uuid(RefreshTokens::UserId))
                .col(uuid(RefreshTokens::FamilyId))
                .col(string_len(RefreshTokens::TokenHash, 64))
                .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_refresh_tokens_user")
                        .from(RefreshTokens::Table, RefreshTokens::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        for (name, col, unique) in [
            (
                "ux_refresh_tokens_token_hash",
                RefreshTokens::TokenHash,
                true,
            ),
            ("ix_refresh_tokens_user_id", RefreshTokens::UserId, false),
            (
                "ix_refresh_tokens_family_id",
                RefreshTokens::FamilyId,
                false,
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(RefreshTokens::Table).col(col);
            if unique {
                idx.unique();
            }
            m.create_index(idx.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(uuid(ApiTokens::Id).primary_key())
                .col(uuid(ApiTokens::UserId))
                .col(string_len(ApiTokens::Name, 200))
                .col(string_len(ApiTokens::TokenHash, 64))
                .col(string_len(ApiTokens::Scopes, 200))
                .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_api_tokens_user")
                        .from(ApiTokens::Table, ApiTokens::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_api_tokens_token_hash")
                .table(ApiTokens::Table)
                .col(ApiTokens::TokenHash)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_api_tokens_user_id")
                .table(ApiTokens::Table)
                .col(ApiTokens::UserId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ApiTokens::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(RefreshTokens::Table).to_owned())
            .await
    }
}
