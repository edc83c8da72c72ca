use sea_orm::entity::prelude::*;

/// A registered service. `contacts` and `credentials` hold ciphertexts (see
/// [`crate::db::encrypted::FIELDS`]), never clear text.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "services")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub environment: String,
    pub base_url: Option<String>,
    pub description: Option<String>,
    pub contacts: Option<String>,
    pub credentials: Option<String>,
    pub credential_headers: Option<Json>,
    /// Probe interval in seconds; `None` is `PROBE_INTERVAL`.
    pub probe_interval_s: Option<i32>,
    /// Monitoring endpoints (URLs, job, log selector, header names), in clear.
    pub monitoring: Option<Json>,
    /// Headers sent to the monitoring endpoints: a ciphertext.
    pub monitoring_credentials: Option<String>,
    pub version: i32,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub deleted_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
