//! Attaching, changing or removing the automated check of a template item.

use super::*;

/// Body of `PUT .../items/{key}/check`: a check as JSON, or as an annotation definition.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"definition": "health"}))]
pub struct CheckUpdate {
    /// The check as JSON tagged by `kind` (e.g. `{"kind": "health"}`); `null` removes it.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub check: Option<serde_json::Value>,
    /// Alternatively, the check as written in an annotation: `rate_limit path=/login burst=50`;
    /// at most 2000 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 2000)]
    pub definition: Option<String>,
}

/// Longest check definition, in characters (also in the schema, held to it by routes_tests.rs):
/// an annotation is one line of a checklist.
pub const MAX_DEFINITION: usize = 2000;

impl CheckUpdate {
    /// The validated check (`None` removes it); 422 naming the problem otherwise.
    pub fn resolve(self) -> ApiResult<Option<CheckSpec>> {
        if self
            .definition
            .as_deref()
            .is_some_and(|d| d.chars().count() > MAX_DEFINITION)
        {
            return Err(ApiError::validation("invalid check")
                .field("definition", format!("at most {MAX_DEFINITION} characters")));
        }
        match (self.check, self.definition) {
            (Some(_), Some(_)) => Err(ApiError::validation("give either check or definition")),
            (None, Some(def)) => CheckSpec::from_definition(&def).map(Some).map_err(|e| {
                ApiError::validation("invalid check").field("definition", e.to_string())
            }),
            (Some(serde_json::Value::Null) | None, None) => Ok(None),
            (Some(value), None) => serde_json::from_value::<CheckSpec>(value)
                .map(Some)
                .map_err(|e| ApiError::validation("invalid check").field("check", e.to_string())),
        }
    }
}

#[utoipa::path(put, path = "/checklists/{id}/items/{key}/check", operation_id = "set_checklist_item_check", tag = "checklists", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Checklist id"),
        ("key" = String, Path, description = "Item key, URL-encoded (`/` as `%2F`)"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    request_body = CheckUpdate,
    responses((status = 200, description = "New template version with the check changed", body = ChecklistView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::ValidationFailed)))]
pub async fn put_item_check(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, key)): Path<(Uuid, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CheckUpdate>,
) -> ApiResult<Response> {
    auth.require_write(Role::Admin)?;
    let current = checklists::find(&state.db, id).await?;
    check_if_match(&headers, current.version)?;
    refuse_builtin(&current)?;
    let check = body.resolve()?;
    let mut doc = document_of(&current)?;
    let item = doc
        .item_mut(&key)
        .ok_or_else(|| ApiError::not_found(format!("checklist {id} has no item {key:?}")))?;
    let before = item.check.as_ref().map(CheckSpec::to_definition);
    item.check = check;
    let after = item.check.as_ref().map(CheckSpec::to_definition);
    // The stored source follows the document, so a later export shows the new annotation.
    let next = NewVersion {
        name: current.name.clone(),
        source: to_markdown(&doc),
        doc: &doc,
        action: "checklist.item_check",
        comment: Some(format!("{key}: {before:?} -> {after:?}")),
    };
    let write = Write::begin(&state.db, auth.actor()).await?;
    let change = checklists::replace(write.txn(), &current, next).await?;
    let updated = write.commit(change).await?;
    super::markdown_cache::forget(&state, current.id).await;
    Ok(json_with_etag(
        StatusCode::OK,
        updated.version,
        view(&updated)?,
    ))
}
