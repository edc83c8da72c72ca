//! Writing the append-only audit log. Callers pass their transaction so the entry commits or
//! rolls back together with the change it records, and say who acted and in which request:
//! this layer reads nothing from HTTP.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, NotSet, Set};
use uuid::Uuid;

use super::entities::audit_log;

/// Who made a change, and in which request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<Uuid>,
    pub label: String,
    /// The id of the request that made the change (`None` outside a request: start-up, CLI).
    pub request_id: Option<String>,
}

impl Actor {
    /// preflight itself (start-up seeding, automatic reactions).
    pub fn system() -> Self {
        Self::named("system")
    }

    /// A non-person actor outside any request, e.g. `cli`.
    pub fn named(label: &str) -> Self {
        Self {
            id: None,
            label: label.to_owned(),
            request_id: None,
        }
    }

    /// The same actor, acting in request `request_id`.
    pub fn in_request(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }
}

/// One audit entry to record.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub comment: Option<String>,
}

pub async fn record<C: ConnectionTrait>(db: &C, actor: &Actor, e: Entry<'_>) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        id: NotSet,
        at: Set(Utc::now()),
        actor_id: Set(actor.id),
        actor: Set(actor.label.clone()),
        action: Set(e.action.to_owned()),
        target_type: Set(e.target_type.to_owned()),
        target_id: Set(e.target_id),
        before: Set(e.before),
        after: Set(e.after),
        comment: Set(e.comment),
        request_id: Set(actor.request_id.clone()),
    }
    .insert(db)
    .await
    .map(|_| ())
}
