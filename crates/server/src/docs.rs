//! OpenAPI document (`/openapi.json`) and Swagger UI (`/docs`), both served from the binary.
//!
//! The operations come from the routers: every resource module registers its handlers with
//! `utoipa_axum::routes!`, so a route and its documentation are one registration (see
//! [`crate::startup::documented_routes`], and [`crate::startup::openapi`] for the whole
//! document). This module holds what the operations share: the document's info and tags, the
//! security scheme, the problem schemas and the [`problems`] responses. It depends on no
//! handler module, so that every handler module can use it.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi, ToResponse};

#[derive(OpenApi)]
#[openapi(
    info(title = "preflight", description = "Production-readiness checklists made executable. Errors are RFC 9457 problem documents (`application/problem+json`) whose `type` is a stable `urn:preflight:problem:<slug>`."),
    components(schemas(crate::error::Problem, crate::error::FieldError),
        responses(problems::BadRequest, problems::Unauthorized, problems::Forbidden,
            problems::NotFound, problems::Conflict, problems::PreconditionFailed,
            problems::PayloadTooLarge, problems::UnsupportedMediaType, problems::ValidationFailed,
            problems::TooManyRequests)),
    modifiers(&SecurityAddon),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Login, tokens and the current user"),
        (name = "users", description = "User management (admin)"),
        (name = "checklists", description = "Checklist templates, imported from Markdown (admins manage, everyone reads)"),
        (name = "services", description = "Services, their owners and encrypted incident contacts and probe credentials"),
        (name = "reviews", description = "Checklists attached to services, item states and exports"),
        (name = "readiness", description = "Readiness per review, per service and for every service (cached)"),
        (name = "audit", description = "The append-only audit log (read-only)"),
    )
)]
pub struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT access token or pfa_ API token")
                    .description(Some(
                        "A JWT from POST /api/v1/auth/login, or a personal API token.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Responses every `/api/v1` operation has because of the middleware rather than its handler:
/// the rate limiter answers 429 to any of them. Added where an operation does not declare it.
pub fn add_shared_responses(doc: &mut Document) {
    let too_many = Ref::from_response_name(problems::TooManyRequests::response().0);
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
            &mut item.query,
        ];
        let extra = item.additional_operations.values_mut();
        for operation in operations.into_iter().flatten().chain(extra) {
            operation
                .responses
                .responses
                .entry("429".to_owned())
                .or_insert_with(|| RefOr::Ref(too_many.clone()));
        }
    }
}

/// Error responses shared by the operations, referenced as `#/components/responses/<Name>`:
/// each is an RFC 9457 problem document whose `type` names the problem precisely.
pub mod problems {
    use utoipa::ToResponse;

    use crate::error::Problem;

    /// Malformed request: a body that is not valid JSON (or not UTF-8), a path or query
    /// parameter of the wrong type, or an `If-Match` that is not ASCII.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct BadRequest(pub Problem);

    /// No valid credentials: send `Authorization: Bearer <access token or API token>`, or the
    /// presented token is invalid, expired or revoked.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "`Bearer`")))]
    pub struct Unauthorized(pub Problem);

    /// Authenticated, but the caller's role, credential kind or API token scopes do not allow
    /// this operation.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct Forbidden(pub Problem);

    /// No such resource (or it was deleted); `detail` names what was looked up.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct NotFound(pub Problem);

    /// The request conflicts with the current state: a name already taken, a concurrent change,
    /// a state transition that is not allowed, or a built-in resource.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct Conflict(pub Problem);

    /// `If-Match` does not match the resource's current ETag: fetch it again.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct PreconditionFailed(pub Problem);

    /// The body is larger than the limit (`BODY_LIMIT_KB`; 512 KiB for a checklist document).
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct PayloadTooLarge(pub Problem);

    /// The body's `Content-Type` is not the one the operation's request body names.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct UnsupportedMediaType(pub Problem);

    /// The request is well-formed but invalid: a missing or mistyped field, a value out of
    /// range, a checklist that does not import. `errors` names the fields.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct ValidationFailed(pub Problem);

    /// Rate limit exceeded (per caller on every `/api/v1` call; per client and per account on
    /// login). Retry after `Retry-After` seconds.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json",
        headers(
            ("Retry-After" = u64, description = "Seconds until a retry can succeed"),
            ("RateLimit" = String, description = "Remaining quota (IETF RateLimit header fields)"),
            ("RateLimit-Policy" = String, description = "The quota policy")))]
    pub struct TooManyRequests(pub Problem);
}
