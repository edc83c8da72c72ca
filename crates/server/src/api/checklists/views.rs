//! How checklists are shown: list entries, sections and items.

use super::*;

/// A checklist in lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistSummary {
    pub id: Uuid,
    pub name: String,
    /// Shipped with preflight; read-only (import a copy to adapt it).
    pub builtin: bool,
    /// Template version; every replacement adds one. Also the ETag (`"v<version>"`).
    pub version: i32,
    pub item_count: i32,
    pub archived: bool,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One section and its groups.
#[derive(Debug, Serialize, ToSchema)]
pub struct SectionView {
    pub title: String,
    pub groups: Vec<String>,
}

/// One template item.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateItemView {
    /// Stable key (slug of section, group and text); use it URL-encoded in item paths.
    pub key: String,
    pub text: String,
    pub section: Option<String>,
    pub group: Option<String>,
    pub optional: bool,
    pub parent: Option<String>,
    pub depth: u32,
    /// 1-based line in the document.
    pub line: usize,
    /// Automated check (JSON tagged by `kind`).
    #[schema(value_type = Option<Object>)]
    pub check: Option<CheckSpec>,
    /// The check as written in an annotation (`KIND key=value ...`).
    pub check_definition: Option<String>,
    pub re_attest_days: Option<u32>,
    pub requires_comment: bool,
}

/// A checklist with its structure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistView {
    #[serde(flatten)]
    pub summary: ChecklistSummary,
    pub title: Option<String>,
    pub sections: Vec<SectionView>,
    pub items: Vec<TemplateItemView>,
}

impl From<&checklist::Model> for ChecklistSummary {
    fn from(m: &checklist::Model) -> Self {
        Self {
            id: m.id,
            name: m.name.clone(),
            builtin: m.builtin,
            version: m.version,
            item_count: m.item_count,
            archived: m.archived_at.is_some(),
            created_by: m.created_by.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

pub fn item_views(doc: &Checklist) -> Vec<TemplateItemView> {
    doc.items
        .iter()
        .map(|i| TemplateItemView {
            key: i.key.clone(),
            text: i.text.clone(),
            section: i.section.clone(),
            group: i.group.clone(),
            optional: i.optional,
            parent: i.parent.clone(),
            depth: i.depth,
            line: i.line,
            check_definition: i.check.as_ref().map(CheckSpec::to_definition),
            check: i.check.clone(),
            re_attest_days: i.re_attest_days,
            requires_comment: i.requires_comment,
        })
        .collect()
}

pub(super) fn view(m: &checklist::Model) -> ApiResult<ChecklistView> {
    let doc = document_of(m)?;
    Ok(ChecklistView {
        summary: m.into(),
        title: doc.title.clone(),
        sections: doc
            .sections
            .iter()
            .map(|s| SectionView {
                title: s.title.clone(),
                groups: s.groups.clone(),
            })
            .collect(),
        items: item_views(&doc),
    })
}
