//! The built-in "Production readiness" template, present in every installation.

use super::*;

/// Makes sure the built-in template exists and matches this binary's text. Idempotent and
/// safe with several replicas starting at once (the unique name index lets one insert win).
pub async fn seed_builtin(db: &DatabaseConnection) -> anyhow::Result<()> {
    let doc = parse_checklist(PRODUCTION_READINESS)
        .map_err(|e| anyhow::anyhow!("the built-in template does not import: {e}"))?;
    let existing = checklist::Entity::find()
        .filter(checklist::Column::Builtin.eq(true))
        .filter(checklist::Column::ArchivedAt.is_null())
        .one(db)
        .await?;
    let actor = Actor::system();
    match existing {
        Some(m) if m.source == PRODUCTION_READINESS => Ok(()),
        Some(m) => {
            // A newer binary ships new wording: a new version; existing reviews keep theirs.
            let txn = db.begin().await?;
            let result = checklist::Entity::update_many()
                .col_expr(checklist::Column::Source, Expr::value(PRODUCTION_READINESS))
                .col_expr(
                    checklist::Column::Document,
                    Expr::value(serde_json::to_value(&doc)?),
                )
                .col_expr(checklist::Column::ItemCount, Expr::value(item_count(&doc)))
                .col_expr(checklist::Column::Version, Expr::value(m.version + 1))
                .col_expr(checklist::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(checklist::Column::Id.eq(m.id))
                .filter(checklist::Column::Version.eq(m.version))
                .exec(&txn)
                .await?;
            if result.rows_affected == 1 {
                audit::record(
                    &txn,
                    &actor,
                    audit::Entry {
                        action: "checklist.update",
                        target_type: "checklist",
                        target_id: m.id.to_string(),
                        before: Some(serde_json::json!({"version": m.version})),
                        after: Some(serde_json::json!({"version": m.version + 1})),
                        comment: Some("built-in template updated by a new release".into()),
                    },
                )
                .await?;
            }
            txn.commit().await?;
            Ok(())
        }
        None => {
            let txn = db.begin().await?;
            let taken = checklist::Entity::find()
                .filter(checklist::Column::Name.eq(BUILTIN_NAME))
                .filter(checklist::Column::ArchivedAt.is_null())
                .one(&txn)
                .await?
                .is_some();
            // Someone imported their own "Production readiness" first: keep theirs.
            let name = if taken {
                format!("{BUILTIN_NAME} (built-in)")
            } else {
                BUILTIN_NAME.to_owned()
            };
            match insert(
                &txn,
                &actor,
                name,
                true,
                PRODUCTION_READINESS.to_owned(),
                &doc,
            )
            .await
            {
                Ok(_) => {
                    txn.commit().await?;
                    tracing::info!("installed the built-in checklist template");
                    Ok(())
                }
                // Another replica inserted it at the same moment.
                Err(e) if e.status == StatusCode::CONFLICT => Ok(()),
                Err(e) => Err(anyhow::anyhow!(
                    "installing the built-in template: {}",
                    e.detail.unwrap_or_default()
                )),
            }
        }
    }
}
