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
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&SecurityAddon),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Login, tokens and the current user"),
        (name = "users", description = "User management (admin)"),
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
