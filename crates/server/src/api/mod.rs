//! Resource endpoints under `/api/v1` (auth endpoints live in [`crate::auth`]).

pub mod audit;
pub mod checklists;
pub mod etag;
pub mod readiness;
pub mod review_items;
pub mod reviews;
pub mod runs;
pub mod service_fields;
pub mod service_probe;
pub mod services;
pub mod support;
pub mod users;

/// Schemas of the resource modules that operations use only nested in others, registered
/// with the document by [`crate::startup::documented_routes`].
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    support::Format,
    reviews::ExportFormat,
    service_fields::Contact,
    service_fields::CredentialsInput,
    service_fields::CredentialsView,
    service_probe::EndpointInput,
    service_probe::EndpointView,
    service_probe::MonitoringInput,
    service_probe::MonitoringView,
    readiness::CountsView,
    readiness::ScoreView,
    readiness::SectionScoreView,
    readiness::BlockingView,
    readiness::ReviewBrief,
    readiness::ServiceSummary
)))]
pub struct Schemas;
