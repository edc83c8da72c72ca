//! OpenAPI document (`/openapi.json`) and Swagger UI (`/docs`), both served from the binary.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{api, auth, health};

#[derive(OpenApi)]
#[openapi(
    info(title = "preflight", description = "Production-readiness checklists made executable. Errors are RFC 9457 problem documents (`application/problem+json`) whose `type` is a stable `urn:preflight:problem:<slug>`."),
    paths(
        health::live, health::ready,
        auth::session::login, auth::session::refresh, auth::session::logout, auth::session::me,
        auth::api_tokens::list, auth::api_tokens::create, auth::api_tokens::revoke,
        api::users::list, api::users::create, api::users::get, api::users::update, api::users::delete,
        api::checklists::list, api::checklists::create, api::checklists::get, api::checklists::update,
        api::checklists::delete, api::checklists::put_item_check,
        api::services::list, api::services::create, api::services::get, api::services::update,
        api::services::delete,
        api::reviews::list, api::reviews::attach, api::reviews::get, api::reviews::delete,
        api::review_items::get, api::review_items::act, api::review_items::put_check,
        api::readiness::review, api::readiness::service, api::readiness::overview,
        api::audit::list,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError,
        api::support::Format, api::service_fields::Contact, api::service_fields::CredentialsInput,
        api::service_fields::CredentialsView, api::readiness::CountsView, api::readiness::ScoreView,
        api::readiness::SectionScoreView, api::readiness::BlockingView, api::readiness::ReviewBrief,
        api::readiness::ServiceSummary)),
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
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("METRICS_TOKEN, for GET /metrics."))
                    .build(),
            ),
        );
    }
}

/// The document, built once per call (cheap; served rarely).
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
