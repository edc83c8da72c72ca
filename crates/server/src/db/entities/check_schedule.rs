use sea_orm::entity::prelude::*;

/// When an automated review item runs next, and which replica holds it while it runs (a lease
/// that expires, so a replica that dies mid-run loses it).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "check_schedule")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub review_item_id: Uuid,
    pub review_id: Uuid,
    pub service_id: Uuid,
    pub next_run_at: ChronoDateTimeUtc,
    /// Set by an on-demand run request not yet served.
    pub requested_at: Option<ChronoDateTimeUtc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
