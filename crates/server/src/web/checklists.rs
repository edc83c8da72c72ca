//! The checklist library: the templates, importing one (pasted or uploaded, previewed first,
//! with the line of any error), a template's items, its Markdown export and attaching it to a
//! service.

use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use preflight_domain::parse_checklist;
use serde::Deserialize;
use uuid::Uuid;

use super::services::{attach_and_show, attachment};
use super::views::when;
use super::{Layout, WebError, WebResult, WebUser, render, see_other};
use crate::api::support::{Format, FormatParam, MAX_MARKDOWN_BYTES, import_problem};
use crate::state::AppState;
use crate::store::{checklists, services};

pub struct ChecklistRow {
    pub id: Uuid,
    pub name: String,
    pub builtin: bool,
    pub version: i32,
    pub items: i32,
    pub updated: String,
}

/// What the import form shows again: the document, its name, and the preview or the error.
#[derive(Default)]
pub struct ImportState {
    pub name: String,
    pub source: String,
    pub error: Option<String>,
    /// `(sections, items)` of a document that parsed.
    pub preview: Option<Preview>,
}

pub struct Preview {
    pub title: String,
    pub sections: Vec<(String, usize)>,
    pub items: usize,
    pub checks: usize,
}

#[derive(askama::Template)]
#[template(path = "checklists.html")]
struct LibraryPage {
    layout: Layout,
    rows: Vec<ChecklistRow>,
    import: ImportState,
}

async fn library_page(
    state: &AppState,
    user: &WebUser,
    status: StatusCode,
    import: ImportState,
) -> WebResult {
    let filter = checklists::Filter {
        name: None,
        include_archived: false,
    };
    let (rows, _) = checklists::list(&state.db, &filter, 1, 200).await?;
    Ok(render(
        status,
        &LibraryPage {
            layout: Layout::new("Checklists", Some(user), "checklists"),
            rows: rows
                .into_iter()
                .map(|c| ChecklistRow {
                    id: c.id,
                    name: c.name,
                    builtin: c.builtin,
                    version: c.version,
                    items: c.item_count,
                    updated: when(c.updated_at),
                })
                .collect(),
            import,
        },
    ))
}

/// `GET /checklists`.
pub async fn library(State(state): State<AppState>, user: WebUser) -> WebResult {
    library_page(&state, &user, StatusCode::OK, ImportState::default()).await
}

/// The fields of the import form (multipart: it may carry a file).
#[derive(Default)]
struct ImportForm {
    csrf: String,
    name: String,
    pasted: String,
    file: Vec<u8>,
    intent: String,
}

async fn read_import(mut multipart: Multipart) -> WebResult<ImportForm> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        WebError::new(
            StatusCode::BAD_REQUEST,
            format!("the form could not be read: {e}"),
        )
    };
    let mut form = ImportForm::default();
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(bad)?;
        if bytes.len() > MAX_MARKDOWN_BYTES {
            return Err(WebError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "a checklist may be at most {} KiB",
                    MAX_MARKDOWN_BYTES / 1024
                ),
            ));
        }
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "csrf" => form.csrf = text(),
            "name" => form.name = text(),
            "markdown" => form.pasted = text(),
            "intent" => form.intent = text(),
            "file" => form.file = bytes.to_vec(),
            _ => {}
        }
    }
    Ok(form)
}

/// The document of the form: the uploaded file when there is one, else the pasted text.
/// Browsers send pasted text with CRLF line ends; the document keeps LF.
fn source_of(form: &ImportForm) -> Result<String, String> {
    if !form.file.is_empty() {
        return match std::str::from_utf8(&form.file) {
            Ok(text) => Ok(text.to_owned()),
            Err(e) => {
                let line = form.file[..e.valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    + 1;
                Err(format!(
                    "the file is not UTF-8 text (line {line}); save it as UTF-8"
                ))
            }
        };
    }
    Ok(form.pasted.replace("\r\n", "\n"))
}

fn preview_of(source: &str) -> Result<Preview, String> {
    if source.trim().is_empty() {
        return Err("paste a checklist or choose a file".into());
    }
    let doc = parse_checklist(source).map_err(|e| WebError::from(import_problem(&e)).summary())?;
    Ok(Preview {
        title: doc.title.clone().unwrap_or_default(),
        sections: doc
            .sections
            .iter()
            .map(|s| {
                let n = doc
                    .items
                    .iter()
                    .filter(|i| i.section.as_deref() == Some(s.title.as_str()))
                    .count();
                (s.title.clone(), n)
            })
            .collect(),
        items: doc.items.len(),
        checks: doc.items.iter().filter(|i| i.check.is_some()).count(),
    })
}

/// `POST /checklists/import`: with `intent=preview` the document is parsed and shown (or its
/// error, naming the line); with `intent=import` it is imported through the API's function.
pub async fn import(
    State(state): State<AppState>,
    user: WebUser,
    multipart: Multipart,
) -> WebResult {
    let form = read_import(multipart).await?;
    user.check_csrf(&form.csrf)?;
    user.auth.require_write(crate::auth::Role::Admin)?;
    let mut shown = ImportState {
        name: form.name.trim().to_owned(),
        ..ImportState::default()
    };
    let source = match source_of(&form) {
        Ok(s) => s,
        Err(e) => {
            shown.error = Some(e);
            return library_page(&state, &user, StatusCode::UNPROCESSABLE_ENTITY, shown).await;
        }
    };
    shown.source.clone_from(&source);
    match preview_of(&source) {
        Err(e) => {
            shown.error = Some(e);
            library_page(&state, &user, StatusCode::UNPROCESSABLE_ENTITY, shown).await
        }
        Ok(preview) if form.intent != "import" => {
            shown.preview = Some(preview);
            library_page(&state, &user, StatusCode::OK, shown).await
        }
        Ok(preview) => {
            let name = Some(shown.name.as_str()).filter(|n| !n.is_empty());
            match crate::api::checklists::import(&state, &user.auth, name, source).await {
                Ok(created) => Ok(see_other(&format!("/checklists/{}", created.id))),
                Err(e) if e.status.is_client_error() => {
                    let status = e.status;
                    shown.error = Some(WebError::from(e).summary());
                    shown.preview = Some(preview);
                    library_page(&state, &user, status, shown).await
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

pub struct TemplateItem {
    pub parts: Vec<super::views::Part>,
    pub section: String,
    pub group: Option<String>,
    pub optional: bool,
    pub nested: bool,
    pub check: Option<String>,
    pub line: usize,
}

pub struct ServiceChoice {
    pub id: Uuid,
    pub name: String,
}

#[derive(askama::Template)]
#[template(path = "checklist.html")]
struct ChecklistPage {
    layout: Layout,
    id: Uuid,
    name: String,
    version: i32,
    builtin: bool,
    items: Vec<TemplateItem>,
    services: Vec<ServiceChoice>,
}

/// `GET /checklists/{id}`: the template's items and the form to attach it to a service.
pub async fn page(State(state): State<AppState>, user: WebUser, Path(id): Path<Uuid>) -> WebResult {
    let m = checklists::find(&state.db, id).await?;
    let doc = checklists::document_of(&m)?;
    let items = crate::api::checklists::item_views(&doc)
        .into_iter()
        .map(|i| TemplateItem {
            parts: super::views::parts(&i.text),
            section: i.section.unwrap_or_default(),
            group: i.group,
            optional: i.optional,
            nested: i.depth > 0,
            check: i.check_definition,
            line: i.line,
        })
        .collect();
    let all = services::all(&state.db).await?;
    Ok(render(
        StatusCode::OK,
        &ChecklistPage {
            layout: Layout::new(m.name.clone(), Some(&user), "checklists"),
            id,
            name: m.name,
            version: m.version,
            builtin: m.builtin,
            items,
            services: all
                .into_iter()
                .map(|s| ServiceChoice {
                    id: s.id,
                    name: format!("{} ({})", s.name, s.environment),
                })
                .collect(),
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct AttachForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    service: String,
}

/// `POST /checklists/{id}/attach`: to the chosen service, then that service's page.
pub async fn attach(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<Uuid>,
    Form(form): Form<AttachForm>,
) -> WebResult {
    user.check_csrf(&form.csrf)?;
    let service = form
        .service
        .trim()
        .parse()
        .map_err(|_| WebError::new(StatusCode::UNPROCESSABLE_ENTITY, "choose a service"))?;
    attach_and_show(&state, &user, service, id).await
}

/// `GET /checklists/{id}/export`: the API's Markdown, as a download.
pub async fn export(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<Uuid>,
) -> WebResult<Response> {
    let format = FormatParam {
        format: Some(Format::Markdown),
    };
    let mut res = crate::api::checklists::get(
        State(state),
        user.auth,
        Path(id),
        Query(format),
        HeaderMap::new(),
    )
    .await?;
    attachment(&mut res, &format!("checklist-{id}.md"));
    Ok(res)
}
