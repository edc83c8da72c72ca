use sea_orm::entity::prelude::*;

/// A checklist attached to a service: `document` is a copy of the template version it was
/// attached from, so later template edits never rewrite it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "reviews")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub service_id: Uuid,
    pub checklist_id: Uuid,
    pub checklist_version: i32,
    pub title: String,
    pub document: Json,
    pub version: i32,
    pub created_by: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub deleted_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
