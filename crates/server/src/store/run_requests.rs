//! On-demand runs: a request names the items to run; the first run of each item that starts
//! after the request fills in its line ([`fill`]), and the request is finished when every line
//! has a run.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::write::Audited;
use super::{StoreError, StoreResult};
use crate::db::audit::Entry;
use crate::db::entities::{run_request, run_request_item};

/// A request to store.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub id: Uuid,
    pub service_id: Uuid,
    /// Set when one item was asked for.
    pub review_item_id: Option<Uuid>,
    pub requested_by: String,
    pub items: Vec<Uuid>,
    pub now: DateTime<Utc>,
}

/// Stores the request and its lines; the audit entry records who asked for what.
pub async fn create<C: ConnectionTrait>(db: &C, new: NewRequest) -> StoreResult<Audited<()>> {
    let total = i32::try_from(new.items.len()).unwrap_or(i32::MAX);
    run_request::ActiveModel {
        id: Set(new.id),
        service_id: Set(new.service_id),
        review_item_id: Set(new.review_item_id),
        requested_by: Set(new.requested_by),
        created_at: Set(new.now),
        total: Set(total),
    }
    .insert(db)
    .await?;
    for chunk in new.items.chunks(200) {
        let lines = chunk.iter().map(|item| run_request_item::ActiveModel {
            request_id: Set(new.id),
            review_item_id: Set(*item),
            check_run_id: Set(None),
            created_at: Set(new.now),
        });
        run_request_item::Entity::insert_many(lines)
            .exec_without_returning(db)
            .await?;
    }
    let entry = Entry {
        action: "check_run.request",
        target_type: if new.review_item_id.is_some() {
            "review_item"
        } else {
            "service"
        },
        target_id: new.review_item_id.unwrap_or(new.service_id).to_string(),
        before: None,
        after: Some(serde_json::json!({"run_request": new.id, "items": total})),
        comment: None,
    };
    Ok(Audited::new((), entry))
}

/// Gives run `run` (of `item`, started at `started_at`) to every open line of a request made
/// before the run started.
pub async fn fill<C: ConnectionTrait>(
    db: &C,
    item: Uuid,
    run: Uuid,
    started_at: DateTime<Utc>,
) -> StoreResult<u64> {
    Ok(run_request_item::Entity::update_many()
        .col_expr(run_request_item::Column::CheckRunId, Expr::value(run))
        .filter(run_request_item::Column::ReviewItemId.eq(item))
        .filter(run_request_item::Column::CheckRunId.is_null())
        .filter(run_request_item::Column::CreatedAt.lte(started_at))
        .exec(db)
        .await?
        .rows_affected)
}

/// A request and its lines.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> StoreResult<(run_request::Model, Vec<run_request_item::Model>)> {
    let request = run_request::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no run {id}")))?;
    let lines = run_request_item::Entity::find()
        .filter(run_request_item::Column::RequestId.eq(id))
        .all(db)
        .await?;
    Ok((request, lines))
}
