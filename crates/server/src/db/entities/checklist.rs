use sea_orm::entity::prelude::*;

/// A checklist template. `document` is the parsed [`preflight_domain::Checklist`] as JSON;
/// `source` the Markdown it came from (normalised), so export needs no re-rendering.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "checklists")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub builtin: bool,
    pub version: i32,
    pub source: String,
    pub document: Json,
    pub item_count: i32,
    pub created_by: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub archived_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
