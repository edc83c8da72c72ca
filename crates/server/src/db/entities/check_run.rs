use sea_orm::entity::prelude::*;

/// One run of a review item's automated check, with its evidence (a
/// [`preflight_probe::Report`] as JSON). Written by the check runner; pruned by retention.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "check_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub review_item_id: Uuid,
    pub review_id: Uuid,
    pub service_id: Uuid,
    pub item_key: String,
    pub kind: String,
    /// `schedule` or `request`.
    pub trigger: String,
    pub started_at: ChronoDateTimeUtc,
    pub finished_at: ChronoDateTimeUtc,
    /// `passed`, `failed` or `error`.
    pub outcome: String,
    pub reason: String,
    pub evidence: Json,
    pub duration_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
