//! Checklist templates: imported documents, their versions (each replacement adds one; reviews
//! keep the copy they were made from) and archiving. Names are unique among live templates,
//! by a partial unique index.

use chrono::Utc;
use preflight_domain::Checklist;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use uuid::Uuid;

use super::write::{Audited, compare_and_set, taken};
use super::{StoreError, StoreResult, decode, encode, like_escape};
use crate::db::audit::Entry;
use crate::db::entities::checklist;

/// A live (not archived) template.
pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<checklist::Model> {
    checklist::Entity::find_by_id(id)
        .filter(checklist::Column::ArchivedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no checklist {id}")))
}

/// The live built-in template, if it is installed.
pub async fn find_builtin<C: ConnectionTrait>(db: &C) -> StoreResult<Option<checklist::Model>> {
    Ok(checklist::Entity::find()
        .filter(checklist::Column::Builtin.eq(true))
        .filter(checklist::Column::ArchivedAt.is_null())
        .one(db)
        .await?)
}

/// Whether a live template is named `name`.
pub async fn name_in_use<C: ConnectionTrait>(db: &C, name: &str) -> StoreResult<bool> {
    Ok(checklist::Entity::find()
        .filter(checklist::Column::Name.eq(name))
        .filter(checklist::Column::ArchivedAt.is_null())
        .one(db)
        .await?
        .is_some())
}

/// The stored document of a template.
pub fn document_of(m: &checklist::Model) -> StoreResult<Checklist> {
    decode(&m.document, &format!("checklist {}", m.id))
}

/// Which templates to list.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    /// Case-insensitive substring of the name.
    pub name: Option<&'a str>,
    pub include_archived: bool,
}

/// One page (1-based) of templates by name, and the total.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &Filter<'_>,
    page: u64,
    per_page: u64,
) -> StoreResult<(Vec<checklist::Model>, u64)> {
    let mut q = checklist::Entity::find().order_by_asc(checklist::Column::Name);
    if !filter.include_archived {
        q = q.filter(checklist::Column::ArchivedAt.is_null());
    }
    if let Some(name) = filter.name {
        q = q.filter(
            Expr::expr(Func::lower(Expr::col(checklist::Column::Name))).like(
                LikeExpr::new(format!("%{}%", like_escape(&name.to_lowercase()))).escape('\\'),
            ),
        );
    }
    let paginator = q.paginate(db, per_page);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page - 1).await?;
    Ok((items, total))
}

fn item_count(doc: &Checklist) -> i32 {
    i32::try_from(doc.items.len()).unwrap_or(i32::MAX)
}

fn name_taken(name: &str) -> impl FnOnce(sea_orm::DbErr) -> StoreError + '_ {
    taken("name", move || {
        format!("a checklist named {name:?} already exists")
    })
}

/// A template to store as version 1.
#[derive(Debug)]
pub struct NewChecklist<'a> {
    pub name: String,
    pub builtin: bool,
    pub source: String,
    pub doc: &'a Checklist,
    pub created_by: Option<String>,
}

/// Stores a new template (a name in use is [`StoreError::Taken`]).
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewChecklist<'_>,
) -> StoreResult<Audited<checklist::Model>> {
    let now = Utc::now();
    let created = checklist::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(new.name.clone()),
        builtin: Set(new.builtin),
        version: Set(1),
        source: Set(new.source),
        document: Set(encode(new.doc, "checklist document")?),
        item_count: Set(item_count(new.doc)),
        created_by: Set(new.created_by),
        created_at: Set(now),
        updated_at: Set(now),
        archived_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(name_taken(&new.name))?;
    let entry = Entry {
        action: "checklist.create",
        target_type: "checklist",
        target_id: created.id.to_string(),
        before: None,
        after: Some(
            serde_json::json!({"name": created.name, "version": 1, "items": created.item_count, "builtin": new.builtin}),
        ),
        comment: None,
    };
    Ok(Audited::new(created, entry))
}

/// What a new version of a template consists of.
#[derive(Debug)]
pub struct NewVersion<'a> {
    pub name: String,
    pub source: String,
    pub doc: &'a Checklist,
    /// The audit action: `checklist.update`, `checklist.item_check`.
    pub action: &'static str,
    pub comment: Option<String>,
}

/// Stores a new version of `current` if nobody changed it since (a name in use by another
/// template is [`StoreError::Taken`]).
pub async fn replace<C: ConnectionTrait>(
    db: &C,
    current: &checklist::Model,
    next_version: NewVersion<'_>,
) -> StoreResult<Audited<checklist::Model>> {
    let NewVersion {
        name,
        source,
        doc,
        action,
        comment,
    } = next_version;
    let next = current.version + 1;
    let update = checklist::Entity::update_many()
        .col_expr(checklist::Column::Name, Expr::value(name.clone()))
        .col_expr(checklist::Column::Source, Expr::value(source))
        .col_expr(
            checklist::Column::Document,
            Expr::value(encode(doc, "checklist document")?),
        )
        .col_expr(checklist::Column::ItemCount, Expr::value(item_count(doc)))
        .col_expr(checklist::Column::Version, Expr::value(next))
        .col_expr(checklist::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(checklist::Column::Id.eq(current.id))
        .filter(checklist::Column::ArchivedAt.is_null());
    compare_and_set(
        db,
        update,
        checklist::Column::Version,
        current.version,
        "checklist",
    )
    .await
    .map_err(|e| match e {
        StoreError::Db(e) => name_taken(&name)(e),
        e => e,
    })?;
    let updated = find(db, current.id).await?;
    let entry = Entry {
        action,
        target_type: "checklist",
        target_id: current.id.to_string(),
        before: Some(
            serde_json::json!({"name": current.name, "version": current.version, "items": current.item_count}),
        ),
        after: Some(serde_json::json!({"name": name, "version": next, "items": item_count(doc)})),
        comment,
    };
    Ok(Audited::new(updated, entry))
}

/// Replaces the built-in template's text with `source` (a new release ships new wording) if
/// nobody changed it since; existing reviews keep theirs.
pub async fn update_builtin<C: ConnectionTrait>(
    db: &C,
    current: &checklist::Model,
    source: &str,
    doc: &Checklist,
) -> StoreResult<Audited<()>> {
    let update = checklist::Entity::update_many()
        .col_expr(checklist::Column::Source, Expr::value(source))
        .col_expr(
            checklist::Column::Document,
            Expr::value(encode(doc, "checklist document")?),
        )
        .col_expr(checklist::Column::ItemCount, Expr::value(item_count(doc)))
        .col_expr(checklist::Column::Version, Expr::value(current.version + 1))
        .col_expr(checklist::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(checklist::Column::Id.eq(current.id));
    compare_and_set(
        db,
        update,
        checklist::Column::Version,
        current.version,
        "checklist",
    )
    .await?;
    let entry = Entry {
        action: "checklist.update",
        target_type: "checklist",
        target_id: current.id.to_string(),
        before: Some(serde_json::json!({"version": current.version})),
        after: Some(serde_json::json!({"version": current.version + 1})),
        comment: Some("built-in template updated by a new release".into()),
    };
    Ok(Audited::new((), entry))
}

/// Archives `current` if nobody changed it since; reviews made from it are kept and its name
/// is free again.
pub async fn archive<C: ConnectionTrait>(
    db: &C,
    current: &checklist::Model,
) -> StoreResult<Audited<()>> {
    let update = checklist::Entity::update_many()
        .col_expr(checklist::Column::ArchivedAt, Expr::value(Utc::now()))
        .filter(checklist::Column::Id.eq(current.id))
        .filter(checklist::Column::ArchivedAt.is_null());
    compare_and_set(
        db,
        update,
        checklist::Column::Version,
        current.version,
        "checklist",
    )
    .await?;
    let entry = Entry {
        action: "checklist.archive",
        target_type: "checklist",
        target_id: current.id.to_string(),
        before: Some(serde_json::json!({"name": current.name, "version": current.version})),
        after: None,
        comment: None,
    };
    Ok(Audited::new((), entry))
}
