//! Services and their owners. Incident contacts and probe credentials are stored encrypted
//! with the platform keyring, bound to their row by associated data (see
//! [`crate::db::encrypted`]); deletion is soft.

use std::collections::HashMap;

use chrono::Utc;
use preflight_security::Keyring;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query as SqlQuery};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::monitoring::SealedMonitoring;
use super::write::{Audited, compare_and_set, taken};
use super::{StoreError, StoreResult, like_escape};
use crate::db::audit::Entry;
use crate::db::encrypted::aad;
use crate::db::entities::{service, service_owner};

pub const TABLE: &str = "services";

/// The encrypted columns of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    /// Incident contacts (a JSON array).
    Contacts,
    /// Probe credentials (a JSON object); never returned once saved.
    Credentials,
    /// Headers for the monitoring endpoints (see [`super::monitoring`]); never returned.
    MonitoringCredentials,
}

impl Sealed {
    fn column(self) -> &'static str {
        match self {
            Self::Contacts => "contacts",
            Self::Credentials => "credentials",
            Self::MonitoringCredentials => "monitoring_credentials",
        }
    }
}

/// Encrypts `value` (as JSON) for column `field` of service `id`.
pub fn seal<T: Serialize + ?Sized>(
    keyring: &Keyring,
    id: Uuid,
    field: Sealed,
    value: &T,
) -> StoreResult<String> {
    let encode_error = |detail: String| StoreError::Encode {
        what: field.column(),
        detail,
    };
    let json = serde_json::to_string(value).map_err(|e| encode_error(e.to_string()))?;
    keyring
        .encrypt_str(&json, &aad(TABLE, field.column(), id))
        .map_err(|e| encode_error(e.to_string()))
}

/// Decrypts column `field` of service `id`; the error says why it cannot be read (wrong key,
/// another row's value, corrupt JSON) without the value.
pub fn open<T: DeserializeOwned>(
    keyring: &Keyring,
    id: Uuid,
    field: Sealed,
    sealed: &str,
) -> Result<T, String> {
    keyring
        .decrypt_str(sealed, &aad(TABLE, field.column(), id))
        .map_err(|e| e.to_string())
        .and_then(|json| serde_json::from_str(&json).map_err(|e| e.to_string()))
}

/// A live (not deleted) service.
pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<service::Model> {
    service::Entity::find_by_id(id)
        .filter(service::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no service {id}")))
}

/// Every live service, by name.
pub async fn all<C: ConnectionTrait>(db: &C) -> StoreResult<Vec<service::Model>> {
    Ok(service::Entity::find()
        .filter(service::Column::DeletedAt.is_null())
        .order_by_asc(service::Column::Name)
        .all(db)
        .await?)
}

/// Which live services to list.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    /// Case-insensitive substring of the name.
    pub name: Option<&'a str>,
    /// Exact environment.
    pub environment: Option<&'a str>,
    /// Exact owner.
    pub owner: Option<&'a str>,
}

/// One page (1-based) of live services by name, each with its owners, and the total.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &Filter<'_>,
    page: u64,
    per_page: u64,
) -> StoreResult<(Vec<(service::Model, Vec<String>)>, u64)> {
    let mut q = service::Entity::find()
        .filter(service::Column::DeletedAt.is_null())
        .order_by_asc(service::Column::Name);
    if let Some(name) = filter.name {
        q = q.filter(
            Expr::expr(Func::lower(Expr::col(service::Column::Name))).like(
                LikeExpr::new(format!("%{}%", like_escape(&name.to_lowercase()))).escape('\\'),
            ),
        );
    }
    if let Some(env) = filter.environment {
        q = q.filter(service::Column::Environment.eq(env.to_lowercase()));
    }
    if let Some(owner) = filter.owner {
        q = q.filter(
            service::Column::Id.in_subquery(
                SqlQuery::select()
                    .column(service_owner::Column::ServiceId)
                    .from(service_owner::Entity)
                    .and_where(Expr::col(service_owner::Column::Owner).eq(owner))
                    .to_owned(),
            ),
        );
    }
    let paginator = q.paginate(db, per_page);
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page - 1).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut owners = owners_of(db, &ids).await?;
    let items = rows
        .into_iter()
        .map(|m| {
            let o = owners.remove(&m.id).unwrap_or_default();
            (m, o)
        })
        .collect();
    Ok((items, total))
}

/// The owners of each service, sorted.
pub async fn owners_of<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> StoreResult<HashMap<Uuid, Vec<String>>> {
    let mut out: HashMap<Uuid, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = service_owner::Entity::find()
        .filter(service_owner::Column::ServiceId.is_in(ids.iter().copied()))
        .order_by_asc(service_owner::Column::Owner)
        .all(db)
        .await?;
    for r in rows {
        out.entry(r.service_id).or_default().push(r.owner);
    }
    Ok(out)
}

/// The owners of one service, sorted.
pub async fn owners<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<Vec<String>> {
    Ok(owners_of(db, &[id]).await?.remove(&id).unwrap_or_default())
}

async fn set_owners<C: ConnectionTrait>(db: &C, id: Uuid, owners: &[String]) -> StoreResult<()> {
    service_owner::Entity::delete_many()
        .filter(service_owner::Column::ServiceId.eq(id))
        .exec(db)
        .await?;
    if owners.is_empty() {
        return Ok(());
    }
    let rows = owners.iter().map(|o| service_owner::ActiveModel {
        id: Set(Uuid::now_v7()),
        service_id: Set(id),
        owner: Set(o.clone()),
    });
    service_owner::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

/// What the audit log records about a service: never contact details or credential values.
fn audit_shape(m: &service::Model, owners: &[String]) -> serde_json::Value {
    serde_json::json!({
        "name": m.name, "environment": m.environment, "base_url": m.base_url,
        "owners": owners, "contacts_configured": m.contacts.is_some(),
        "credentials_configured": m.credentials.is_some(),
        "credential_headers": m.credential_headers, "version": m.version,
        "probe_interval_s": m.probe_interval_s, "monitoring": m.monitoring,
        "monitoring_credentials_configured": m.monitoring_credentials.is_some(),
    })
}

fn name_taken(name: &str) -> impl FnOnce(sea_orm::DbErr) -> StoreError + '_ {
    taken("name", move || {
        format!("a service named {name:?} already exists")
    })
}

/// Probe credentials as stored: the ciphertext and the header names reads may show.
#[derive(Debug, Clone)]
pub struct SealedCredentials {
    pub sealed: String,
    pub header_names: Vec<String>,
}

/// A service to register; `id` is the one its encrypted fields were sealed for.
#[derive(Debug)]
pub struct NewService {
    pub id: Uuid,
    pub name: String,
    pub environment: String,
    pub base_url: Option<String>,
    pub description: Option<String>,
    pub owners: Vec<String>,
    pub contacts: Option<String>,
    pub credentials: Option<SealedCredentials>,
    /// Seconds between scheduled runs; `None` is `PROBE_INTERVAL`.
    pub probe_interval_s: Option<i32>,
    pub monitoring: Option<SealedMonitoring>,
}

fn monitoring_columns(
    m: Option<SealedMonitoring>,
) -> StoreResult<(Option<serde_json::Value>, Option<String>)> {
    Ok(match m {
        Some(m) => (
            Some(super::encode(&m.stored, "monitoring")?),
            m.sealed_headers,
        ),
        None => (None, None),
    })
}

/// Registers a service (a name already in use is [`StoreError::Taken`]).
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewService,
) -> StoreResult<Audited<(service::Model, Vec<String>)>> {
    let now = Utc::now();
    let (credentials, credential_headers) = match new.credentials {
        Some(c) => (Some(c.sealed), Some(serde_json::json!(c.header_names))),
        None => (None, None),
    };
    let (monitoring, monitoring_credentials) = monitoring_columns(new.monitoring)?;
    let created = service::ActiveModel {
        id: Set(new.id),
        name: Set(new.name.clone()),
        environment: Set(new.environment),
        base_url: Set(new.base_url),
        description: Set(new.description),
        contacts: Set(new.contacts),
        credentials: Set(credentials),
        credential_headers: Set(credential_headers),
        probe_interval_s: Set(new.probe_interval_s),
        monitoring: Set(monitoring),
        monitoring_credentials: Set(monitoring_credentials),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(name_taken(&new.name))?;
    set_owners(db, new.id, &new.owners).await?;
    let entry = Entry {
        action: "service.create",
        target_type: "service",
        target_id: new.id.to_string(),
        before: None,
        after: Some(audit_shape(&created, &new.owners)),
        comment: None,
    };
    Ok(Audited::new((created, new.owners), entry))
}

/// Changes to a service; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Changes {
    pub name: Option<String>,
    pub environment: Option<String>,
    pub base_url: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub owners: Option<Vec<String>>,
    /// Sealed contacts (`Some(None)`: none).
    pub contacts: Option<Option<String>>,
    /// Sealed credentials (`Some(None)`: removed).
    pub credentials: Option<Option<SealedCredentials>>,
    /// `Some(None)`: back to `PROBE_INTERVAL`.
    pub probe_interval_s: Option<Option<i32>>,
    /// `Some(None)`: no monitoring endpoints of its own.
    pub monitoring: Option<Option<SealedMonitoring>>,
}

/// Applies `changes` to `current` (read with `owners`) if nobody changed it since.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    current: &service::Model,
    owners: &[String],
    changes: Changes,
) -> StoreResult<Audited<(service::Model, Vec<String>)>> {
    let id = current.id;
    let mut active: service::ActiveModel = current.clone().into();
    if let Some(n) = &changes.name {
        active.name = Set(n.clone());
    }
    if let Some(env) = changes.environment {
        active.environment = Set(env);
    }
    if let Some(url) = changes.base_url {
        active.base_url = Set(url);
    }
    if let Some(d) = changes.description {
        active.description = Set(d);
    }
    if let Some(contacts) = changes.contacts {
        active.contacts = Set(contacts);
    }
    match changes.credentials {
        Some(Some(c)) => {
            active.credentials = Set(Some(c.sealed));
            active.credential_headers = Set(Some(serde_json::json!(c.header_names)));
        }
        Some(None) => {
            active.credentials = Set(None);
            active.credential_headers = Set(None);
        }
        None => {}
    }
    if let Some(interval) = changes.probe_interval_s {
        active.probe_interval_s = Set(interval);
    }
    if let Some(m) = changes.monitoring {
        let (clear, sealed) = monitoring_columns(m)?;
        active.monitoring = Set(clear);
        active.monitoring_credentials = Set(sealed);
    }
    active.version = Set(current.version + 1);
    active.updated_at = Set(Utc::now());
    let update = service::Entity::update_many()
        .set(active)
        .filter(service::Column::Id.eq(id))
        .filter(service::Column::DeletedAt.is_null());
    compare_and_set(
        db,
        update,
        service::Column::Version,
        current.version,
        "service",
    )
    .await
    .map_err(|e| match (e, &changes.name) {
        (StoreError::Db(e), Some(name)) => name_taken(name)(e),
        (e, _) => e,
    })?;
    if let Some(o) = &changes.owners {
        set_owners(db, id, o).await?;
    }
    let updated = find(db, id).await?;
    let new_owners = changes.owners.unwrap_or_else(|| owners.to_vec());
    let entry = Entry {
        action: "service.update",
        target_type: "service",
        target_id: id.to_string(),
        before: Some(audit_shape(current, owners)),
        after: Some(audit_shape(&updated, &new_owners)),
        comment: None,
    };
    Ok(Audited::new((updated, new_owners), entry))
}

/// Deletes `current` (read with `owners`) softly if nobody changed it since: it is kept for
/// the audit trail, hidden everywhere, and its name is free again.
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    current: &service::Model,
    owners: &[String],
) -> StoreResult<Audited<()>> {
    let update = service::Entity::update_many()
        .col_expr(service::Column::DeletedAt, Expr::value(Utc::now()))
        .col_expr(service::Column::Version, Expr::value(current.version + 1))
        .filter(service::Column::Id.eq(current.id))
        .filter(service::Column::DeletedAt.is_null());
    compare_and_set(
        db,
        update,
        service::Column::Version,
        current.version,
        "service",
    )
    .await?;
    let entry = Entry {
        action: "service.delete",
        target_type: "service",
        target_id: current.id.to_string(),
        before: Some(audit_shape(current, owners)),
        after: None,
        comment: None,
    };
    Ok(Audited::new((), entry))
}
