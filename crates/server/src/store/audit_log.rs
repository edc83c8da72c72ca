//! Reading the append-only audit log (writing it is [`crate::db::audit`], always in the
//! transaction of the change it records).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use super::StoreResult;
use crate::db::entities::audit_log;

/// Which entries to list.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub target_type: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub action: Option<&'a str>,
    /// Target types left out (when no `target_type` is asked for).
    pub hidden_types: &'a [&'a str],
}

/// One page (1-based) of entries, newest first, and the total.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &Filter<'_>,
    page: u64,
    per_page: u64,
) -> StoreResult<(Vec<audit_log::Model>, u64)> {
    let mut q = audit_log::Entity::find()
        .order_by_desc(audit_log::Column::At)
        .order_by_desc(audit_log::Column::Id);
    if let Some(t) = filter.target_type {
        q = q.filter(audit_log::Column::TargetType.eq(t));
    } else if !filter.hidden_types.is_empty() {
        q = q.filter(audit_log::Column::TargetType.is_not_in(filter.hidden_types.iter().copied()));
    }
    if let Some(id) = filter.target_id {
        q = q.filter(audit_log::Column::TargetId.eq(id));
    }
    if let Some(a) = filter.action {
        q = q.filter(audit_log::Column::Action.eq(a));
    }
    let paginator = q.paginate(db, per_page);
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page - 1).await?;
    Ok((rows, total))
}
