use sea_orm::entity::prelude::*;

/// The state of one item of one review. `record` is a [`preflight_domain::ItemRecord`] as
/// JSON; `check_spec` a [`preflight_domain::CheckSpec`].
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "review_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub review_id: Uuid,
    pub key: String,
    pub position: i32,
    pub check_spec: Option<Json>,
    pub re_attest_days: Option<i32>,
    pub requires_comment: bool,
    pub record: Json,
    pub version: i32,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
