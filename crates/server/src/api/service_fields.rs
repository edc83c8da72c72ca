//! Service request/response shapes and their validation; what is sealed in the encrypted
//! fields (incident contacts, probe credentials) and shown of them: credentials are never
//! returned after they are saved. The encryption itself is the store's
//! ([`crate::store::services::seal`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::services::{Sealed, SealedCredentials, open, seal};

// The limits below are also in the request schemas (`#[schema(...)]` takes only literals);
// `routes_tests.rs` holds the document to these constants.
/// Longest name, in characters.
pub const MAX_NAME: usize = 200;
/// What [`validate_name`] and [`validate_owners`] accept, as a schema pattern: not blank,
/// no control character (`char::is_control`). The names' `#[schema]` repeat it (a literal).
pub const NOT_BLANK_NO_CONTROL: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";
/// Longest environment, in characters (ASCII only).
pub const MAX_ENVIRONMENT: usize = 32;
/// Longest base URL (and monitoring server URL), in characters.
pub const MAX_URL: usize = 2048;
/// The usual form of the URLs [`validate_base_url`] accepts, as a schema pattern: `http` or
/// `https`, a host name or IPv4 address, an optional port, path and query. The server parses
/// the URL and also takes some the pattern leaves out (IPv6 hosts, upper-case schemes).
pub const URL_PATTERN: &str = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+([/?#][!-~]*)?$";
pub const MAX_CONTACTS: usize = 50;
pub const MAX_HEADERS: usize = 20;
/// Longest header name and value of probe credentials (and monitoring headers), in
/// characters (names are ASCII tokens).
pub const MAX_HEADER_NAME: usize = 256;
pub const MAX_HEADER_VALUE: usize = 8192;
pub const MAX_OWNERS: usize = 50;
/// Longest owner, in characters.
pub const MAX_OWNER: usize = 320;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 4000;
/// Longest contact name, email, phone, role and notes, in characters.
pub const MAX_CONTACT_NAME: usize = 200;
pub const MAX_CONTACT_EMAIL: usize = 320;
pub const MAX_CONTACT_PHONE: usize = 64;
pub const MAX_CONTACT_ROLE: usize = 200;
pub const MAX_CONTACT_NOTES: usize = 2000;

/// Someone to call when the service is in trouble.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Not blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 320)]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 64)]
    pub phone: Option<String>,
    /// E.g. "primary on-call", "team lead".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

/// Credentials preflight sends when probing the service (write-only).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsInput {
    /// Header name → value, e.g. `{"Authorization": "Bearer …"}`: 1 to 20 headers.
    #[schema(schema_with = credential_headers)]
    pub headers: BTreeMap<String, String>,
}

/// The schema of a header map that [`validate_credentials`] accepts: 1 to [`MAX_HEADERS`]
/// headers, names and values within their limits.
fn credential_headers() -> utoipa::openapi::Object {
    header_map(1).build()
}

/// A header map's schema with at least `min` headers (more bounds are the validation's).
pub fn header_map(min: usize) -> utoipa::openapi::schema::ObjectBuilder {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
    let string = |max: usize| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(max))
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .min_properties(Some(min))
        .max_properties(Some(MAX_HEADERS))
        .property_names(Some(string(MAX_HEADER_NAME)))
        .additional_properties(Some(AdditionalProperties::RefOr(
            string(MAX_HEADER_VALUE).min_length(None).into(),
        )))
}

/// The schema of a list of owners: at most [`MAX_OWNERS`], each 1 to [`MAX_OWNER`] characters.
pub fn owners_schema() -> utoipa::openapi::schema::ArrayBuilder {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .description(Some(format!(
            "Owning teams or people: at most {MAX_OWNERS}, each 1 to {MAX_OWNER} characters, \
             not blank, no control characters."
        )))
        .max_items(Some(MAX_OWNERS))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_OWNER))
                .pattern(Some(NOT_BLANK_NO_CONTROL)),
        )
}

/// What a read says about stored credentials: never the values.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CredentialsView {
    pub configured: bool,
    pub header_names: Vec<String>,
}

/// Lets a PATCH tell "absent" (leave as is) from `null` (clear).
pub fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn clean(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::validation("invalid service").field(field, message)
}

pub fn validate_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            format!("1 to {MAX_NAME} characters, no control characters"),
        ));
    }
    Ok(name.to_owned())
}

pub fn validate_environment(env: &str) -> ApiResult<String> {
    let env = env.trim().to_lowercase();
    let ok = !env.is_empty()
        && env.len() <= MAX_ENVIRONMENT
        && env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(invalid(
            "environment",
            "1 to 32 characters of a-z, 0-9, '-' and '_' (e.g. production, staging)",
        ));
    }
    Ok(env)
}

pub fn validate_base_url(url: Option<String>) -> ApiResult<Option<String>> {
    let Some(url) = clean(url) else {
        return Ok(None);
    };
    let parsed =
        url::Url::parse(&url).map_err(|e| invalid("base_url", format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(invalid(
            "base_url",
            "must be an http:// or https:// URL with a host",
        ));
    }
    if url.chars().count() > MAX_URL {
        return Err(invalid("base_url", format!("at most {MAX_URL} characters")));
    }
    Ok(Some(url.trim_end_matches('/').to_owned()))
}

/// Trimmed, duplicates dropped (first one kept), in the order given. The count is checked
/// first and duplicates found through a set, so the work is bounded by the cap, not the input.
pub fn validate_owners(owners: Vec<String>) -> ApiResult<Vec<String>> {
    if owners.len() > MAX_OWNERS {
        return Err(invalid("owners", format!("at most {MAX_OWNERS} owners")));
    }
    let mut seen = std::collections::HashSet::with_capacity(owners.len());
    let mut out: Vec<String> = Vec::with_capacity(owners.len());
    for o in owners {
        let o = o.trim().to_owned();
        if o.is_empty() || o.chars().count() > MAX_OWNER || o.chars().any(char::is_control) {
            return Err(invalid(
                "owners",
                format!("each owner is 1 to {MAX_OWNER} characters"),
            ));
        }
        if seen.insert(o.clone()) {
            out.push(o);
        }
    }
    Ok(out)
}

/// Trimmed, empty is none; at most [`MAX_DESCRIPTION`] characters.
pub fn validate_description(text: Option<String>) -> ApiResult<Option<String>> {
    let text = clean(text);
    if text
        .as_deref()
        .is_some_and(|t| t.chars().count() > MAX_DESCRIPTION)
    {
        return Err(invalid(
            "description",
            format!("at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(text)
}

/// A contact's optional field, trimmed, at most `max` characters.
fn contact_field(value: Option<String>, field: &str, max: usize) -> ApiResult<Option<String>> {
    let value = clean(value);
    if value.as_deref().is_some_and(|v| v.chars().count() > max) {
        return Err(invalid(
            "contacts",
            format!("a contact's {field} is at most {max} characters"),
        ));
    }
    Ok(value)
}

pub fn validate_contacts(contacts: Vec<Contact>) -> ApiResult<Vec<Contact>> {
    if contacts.len() > MAX_CONTACTS {
        return Err(invalid(
            "contacts",
            format!("at most {MAX_CONTACTS} contacts"),
        ));
    }
    contacts
        .into_iter()
        .map(|c| {
            let name = c.name.trim().to_owned();
            if name.is_empty() || name.chars().count() > MAX_CONTACT_NAME {
                return Err(invalid(
                    "contacts",
                    format!("every contact needs a name (at most {MAX_CONTACT_NAME} characters)"),
                ));
            }
            Ok(Contact {
                name,
                email: contact_field(c.email, "email", MAX_CONTACT_EMAIL)?,
                phone: contact_field(c.phone, "phone", MAX_CONTACT_PHONE)?,
                role: contact_field(c.role, "role", MAX_CONTACT_ROLE)?,
                notes: contact_field(c.notes, "notes", MAX_CONTACT_NOTES)?,
            })
        })
        .collect()
}

pub fn validate_credentials(c: &CredentialsInput) -> ApiResult<()> {
    if c.headers.is_empty() || c.headers.len() > MAX_HEADERS {
        return Err(invalid(
            "credentials.headers",
            format!("1 to {MAX_HEADERS} headers (send null to remove credentials)"),
        ));
    }
    for (name, value) in &c.headers {
        if name.len() > MAX_HEADER_NAME
            || axum::http::HeaderName::from_bytes(name.as_bytes()).is_err()
        {
            return Err(invalid(
                "credentials.headers",
                format!("{name:?} is not a header name of at most {MAX_HEADER_NAME} characters"),
            ));
        }
        if value.chars().count() > MAX_HEADER_VALUE
            || axum::http::HeaderValue::from_str(value).is_err()
        {
            // The value is a secret: name the header, never echo the value.
            return Err(invalid(
                "credentials.headers",
                format!(
                    "the value of {name} is not a valid header value of at most {MAX_HEADER_VALUE} characters"
                ),
            ));
        }
    }
    Ok(())
}

/// Encrypts contacts for row `id` (`None` when there are none).
pub fn seal_contacts(
    state: &AppState,
    id: Uuid,
    contacts: &[Contact],
) -> ApiResult<Option<String>> {
    if contacts.is_empty() {
        return Ok(None);
    }
    Ok(Some(seal(&state.keyring, id, Sealed::Contacts, contacts)?))
}

/// Encrypts credentials for row `id`, with the header names reads may show.
pub fn seal_credentials(
    state: &AppState,
    id: Uuid,
    creds: &CredentialsInput,
) -> ApiResult<SealedCredentials> {
    Ok(SealedCredentials {
        sealed: seal(&state.keyring, id, Sealed::Credentials, creds)?,
        header_names: creds.headers.keys().cloned().collect(),
    })
}

/// Decrypts contacts; `None` when they cannot be decrypted with the configured keys (logged).
pub fn open_contacts(state: &AppState, id: Uuid, sealed: Option<&str>) -> Option<Vec<Contact>> {
    let Some(sealed) = sealed else {
        return Some(Vec::new());
    };
    match open(&state.keyring, id, Sealed::Contacts, sealed) {
        Ok(c) => Some(c),
        Err(error) => {
            tracing::warn!(service = %id, %error, "incident contacts cannot be decrypted; is ENCRYPTION_KEY_PREVIOUS missing?");
            None
        }
    }
}

pub fn credentials_view(
    sealed: Option<&str>,
    names: Option<&serde_json::Value>,
) -> CredentialsView {
    let header_names = names
        .and_then(|n| serde_json::from_value::<Vec<String>>(n.clone()).ok())
        .unwrap_or_default();
    CredentialsView {
        configured: sealed.is_some(),
        header_names,
    }
}
