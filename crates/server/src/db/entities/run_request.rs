use sea_orm::entity::prelude::*;

/// An on-demand run: every automated item of a service, or one review item.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "run_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub service_id: Uuid,
    pub review_item_id: Option<Uuid>,
    pub requested_by: String,
    pub created_at: ChronoDateTimeUtc,
    /// Items the request covers.
    pub total: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
