//! The router and the OpenAPI document come from one registration. These tests hold them to
//! each other on the real application: every (method, path) the router serves is documented
//! or listed in [`UNDOCUMENTED_ROUTES`], everything documented is served, and the operations
//! declare their errors through the shared responses.

use std::collections::{BTreeSet, HashMap};

use axum::body::Body;
use axum::http::Request;
use serde_json::Value;
use tower::ServiceExt;

use super::*;

/// The methods the API uses. HEAD follows GET in axum and OPTIONS is the CORS preflight, so
/// neither is a route of its own.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

const NIL_UUID: &str = "00000000-0000-0000-0000-000000000000";

type Routes = BTreeSet<(String, String)>;

async fn state(dir: &std::path::Path) -> AppState {
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("DATA_DIR".into(), dir.display().to_string());
    env.insert(
        "SECRET_KEY".into(),
        "Zq8v3LmN0pR5tY7wB2xC4dF6gH9jK1sA".into(),
    );
    env.insert(
        "ENCRYPTION_KEY".into(),
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
    );
    // Probing every route and method must not run into the anonymous rate limit.
    env.insert("RATE_LIMIT_ENABLED".into(), "false".into());
    // A free port: the application binds its listener as production does.
    env.insert("PORT".into(), "0".into());
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
    // Exactly what `preflight serve` starts (but does not serve here).
    let app = crate::app::Application::build(settings).await.unwrap();
    app.state().clone()
}

async fn app(dir: &std::path::Path) -> Router {
    router(state(dir).await)
}

/// The paths axum routes, read from the router's `Debug` output: axum has no public listing,
/// and its `Debug` shows every registered path (nested ones with their prefix) as a quoted
/// string in `path_router`, ahead of the `fallback_router` (which is not a route).
/// [`routed_paths_are_read_from_the_router`] fails if that stops being true.
fn routed_paths(router: &Router) -> BTreeSet<String> {
    let text = format!("{router:?}");
    let routes = text
        .split_once("path_router:")
        .and_then(|(_, rest)| rest.split_once("fallback_router:"))
        .map(|(routes, _)| routes)
        .expect("axum's Router Debug output has a path_router and a fallback_router");
    let mut paths = BTreeSet::new();
    let mut rest = routes;
    while let Some(start) = rest.find("\"/") {
        let after = &rest[start + 1..];
        let Some(end) = after.find('"') else { break };
        paths.insert(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    paths
}

/// A request path for a route template: a nil UUID for `{id}`, a Swagger UI asset for a
/// wildcard, `x` for any other parameter.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{id}" => NIL_UUID,
            s if s.starts_with("{*") => "swagger-ui.css",
            s if s.starts_with('{') => "x",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn call(app: &Router, method: &str, path: &str) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn is_fallback(status: u16, body: &Value) -> bool {
    status == 404
        && body["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("no route for"))
}

/// (method, path) of every route the router serves: each routed path, probed with each
/// method; axum answers 405 for a method the path does not route.
async fn served(app: &Router) -> Routes {
    let mut routes = Routes::new();
    for path in routed_paths(app) {
        for method in METHODS {
            let (status, body) = call(app, method, &concrete(&path)).await;
            assert!(
                !is_fallback(status, &body),
                "{method} {path} reached the fallback although the router lists the path"
            );
            if status != 405 {
                routes.insert((method.to_owned(), path.clone()));
            }
        }
    }
    routes
}

async fn served_document(app: &Router) -> Value {
    let (status, doc) = call(app, "GET", "/openapi.json").await;
    assert_eq!(status, 200);
    doc
}

/// (method, path, operation) of every documented operation.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (key, op) in item.as_object().unwrap() {
            if matches!(
                key.as_str(),
                "parameters" | "summary" | "description" | "servers"
            ) {
                continue;
            }
            let method = key.to_ascii_uppercase();
            assert!(
                METHODS.contains(&method.as_str()),
                "{key} {path} is documented with a method this test does not probe"
            );
            ops.push((method, path.clone(), op));
        }
    }
    ops
}

#[tokio::test]
async fn routed_paths_are_read_from_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let paths = routed_paths(&app(dir.path()).await);
    for known in [
        "/api/v1/users/{id}",
        "/api/v1/reviews/{id}/items/{key}/check",
        "/health/live",
        "/metrics",
        "/docs/{*rest}",
    ] {
        assert!(
            paths.contains(known),
            "{known} is not in the paths read from axum's Router Debug output ({paths:?}); \
             if axum changed that format, update routed_paths"
        );
    }
}

#[tokio::test]
async fn the_router_serves_exactly_the_documented_and_the_listed_undocumented_routes() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let doc = served_document(&app).await;
    let documented: Routes = operations(&doc)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    // The web UI's HTML pages are not API operations: they are listed in web::ROUTES and held
    // to what is served like the other undocumented routes.
    let undocumented: Routes = UNDOCUMENTED_ROUTES
        .iter()
        .chain(crate::web::ROUTES)
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert!(
        documented.len() >= 30,
        "the document lists the API ({} operations)",
        documented.len()
    );
    let both: Vec<_> = documented.intersection(&undocumented).collect();
    assert!(
        both.is_empty(),
        "in the document and in UNDOCUMENTED_ROUTES: {both:?}"
    );

    let served = served(&app).await;
    let expected: Routes = documented.union(&undocumented).cloned().collect();
    let not_documented: Vec<_> = served.difference(&expected).collect();
    assert!(
        not_documented.is_empty(),
        "served but not documented: {not_documented:?}. Give the handler a #[utoipa::path] and \
         register it with utoipa_axum::routes! in its module's routes(), or, for a route that \
         is deliberately not part of the API, add it to startup::UNDOCUMENTED_ROUTES"
    );
    let not_served: Vec<_> = expected.difference(&served).collect();
    assert!(
        not_served.is_empty(),
        "documented (or listed as undocumented) but not served: {not_served:?}"
    );
    // The operational endpoints stay outside the API description.
    assert!(doc["paths"].get("/metrics").is_none());
}

#[tokio::test]
async fn every_documented_operation_answers_from_its_handler() {
    // Without credentials or body: a protected operation is 401, one with a body 415, the
    // rest answer; none reaches the fallback or a 405.
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let doc = served_document(&app).await;
    for (method, path, op) in operations(&doc) {
        let (status, body) = call(&app, &method, &concrete(&path)).await;
        assert!(
            !is_fallback(status, &body) && status != 405,
            "{method} {path} answered {status} {body}"
        );
        let expected = if op.get("security").is_some() {
            Some(401)
        } else if op.get("requestBody").is_some() {
            Some(415)
        } else {
            None
        };
        if let Some(expected) = expected {
            assert_eq!(status, expected, "{method} {path}: {body}");
            assert!(
                op["responses"][expected.to_string()].is_object(),
                "{method} {path} answers {expected} without declaring it"
            );
        }
    }
}

#[tokio::test]
async fn operations_have_unique_ids_and_declare_their_errors_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let doc = served_document(&app).await;
    assert_eq!(
        doc,
        serde_json::to_value(crate::startup::openapi()).unwrap(),
        "startup::openapi() is the served document"
    );
    let shared = doc["components"]["responses"].as_object().unwrap();
    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_default();
        assert!(
            !id.is_empty() && id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{method} {path} has operationId {id:?}"
        );
        assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");

        let responses = op["responses"].as_object().unwrap();
        let declares = |status: &str| responses.contains_key(status);
        for (status, response) in responses {
            if status.starts_with('4') {
                let name = response["$ref"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/responses/"))
                    .unwrap_or_else(|| {
                        panic!("{method} {path}: {status} is not a shared response: {response}")
                    });
                assert!(shared.contains_key(name), "{method} {path}: no {name}");
            }
        }
        if op.get("security").is_some() {
            assert!(declares("401"), "{method} {path} needs credentials");
        }
        if op.get("requestBody").is_some() {
            for status in ["400", "413", "415", "422"] {
                assert!(declares(status), "{method} {path} takes a body: {status}");
            }
        }
        let uuid_in_path = op["parameters"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["in"] == "path" && p["schema"]["format"] == "uuid")
        });
        if uuid_in_path {
            assert!(declares("400"), "{method} {path}: a malformed id is a 400");
        }
        if path.starts_with("/api/v1/") {
            assert!(declares("429"), "{method} {path} is rate limited");
        }
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        if params.iter().any(|p| p["in"] == "query") {
            // A value of the wrong type (not a number, not one of an enum's words) is a 400.
            assert!(declares("400"), "{method} {path} takes a query: 400");
        }
        for p in &params {
            if matches!(p["name"].as_str(), Some("page" | "per_page")) {
                // Out of range is a 422.
                assert!(declares("422"), "{method} {path} is paginated: 422");
                let schema = &p["schema"];
                assert!(
                    schema["minimum"].is_number() && schema["maximum"].is_number(),
                    "{method} {path}: {} declares its bounds: {schema}",
                    p["name"]
                );
            }
        }
    }
    // Login fields are bounded in the document as in the handler.
    let login = &doc["components"]["schemas"]["LoginRequest"]["properties"];
    for field in ["email", "password"] {
        assert!(
            login[field]["maxLength"].is_number(),
            "LoginRequest.{field} declares a maxLength: {login}"
        );
    }
    for (name, response) in shared {
        assert!(
            response["content"]["application/problem+json"]["schema"]["$ref"]
                == "#/components/schemas/Problem",
            "{name} is a problem document: {response}"
        );
    }
    // Every reference resolves.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/").skip(1) {
        let target = piece.split('"').next().unwrap();
        let pointer = format!("/{target}");
        assert!(doc.pointer(&pointer).is_some(), "dangling $ref #/{target}");
    }
}

#[tokio::test]
async fn a_route_added_beside_the_documented_ones_is_caught() {
    // What the router test sees when someone routes a handler with plain axum: a new path,
    // and a new method on a documented path.
    let dir = tempfile::tempdir().unwrap();
    let (documented, _) = documented_routes().split_for_parts();
    let routes = documented
        .route("/api/v1/sneaky", get(|| async { "hi" }))
        .route("/api/v1/users", axum::routing::put(|| async { "hi" }))
        .fallback(http::problem::not_found);
    let app = with_middleware(routes, state(dir.path()).await);
    let doc = serde_json::to_value(crate::startup::openapi()).unwrap();
    let documented: Routes = operations(&doc)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let extra: Vec<_> = served(&app)
        .await
        .difference(&documented)
        .cloned()
        .collect();
    assert_eq!(
        extra,
        [
            ("GET".to_owned(), "/api/v1/sneaky".to_owned()),
            ("PUT".to_owned(), "/api/v1/users".to_owned()),
        ]
    );
}

/// Where a request schema says nothing that bounds a value the validation bounds: every
/// string of a JSON request body has a `maxLength` (or is an enum, a UUID or a date-time),
/// every integer of a body or a query has a `minimum` and a `maximum`. The Markdown bodies are
/// left out: their limit is a byte count (the 413 of the body limit), not a string length.
#[test]
fn request_schemas_bound_every_string_and_integer() {
    let doc = serde_json::to_value(crate::startup::openapi()).unwrap();
    let mut unbounded = Vec::new();
    let mut visited = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let at = format!("{method} {path}");
        for p in op["parameters"].as_array().into_iter().flatten() {
            let where_ = format!(
                "{at} {} parameter {}",
                p["in"].as_str().unwrap_or("?"),
                p["name"]
            );
            if has_type(&p["schema"], "integer") {
                check_schema(&doc, &p["schema"], &where_, &mut visited, &mut unbounded);
            }
        }
        let Some(content) = op["requestBody"]["content"].as_object() else {
            continue;
        };
        for (media_type, body) in content {
            if media_type == "application/json" {
                check_schema(
                    &doc,
                    &body["schema"],
                    &format!("{at} body"),
                    &mut visited,
                    &mut unbounded,
                );
            } else {
                assert_eq!(
                    media_type, "text/markdown",
                    "{at}: a body the rule does not cover"
                );
            }
        }
    }
    assert!(
        unbounded.is_empty(),
        "request values without the bounds the validation enforces:\n{}",
        unbounded.join("\n")
    );
}

fn has_type(schema: &Value, ty: &str) -> bool {
    match &schema["type"] {
        Value::String(t) => t == ty,
        Value::Array(ts) => ts.iter().any(|t| t == ty),
        _ => false,
    }
}

/// Walks `schema` (through references, properties, items, maps and alternatives) and adds
/// to `out` every string without a length bound and every number without a range; each
/// component is walked once.
fn check_schema(
    doc: &Value,
    schema: &Value,
    at: &str,
    visited: &mut BTreeSet<String>,
    out: &mut Vec<String>,
) {
    if let Some(reference) = schema["$ref"].as_str() {
        if visited.insert(reference.to_owned()) {
            let name = reference.rsplit('/').next().unwrap_or(reference);
            let target = doc.pointer(&reference.replacen('#', "", 1)).unwrap();
            check_schema(doc, target, name, visited, out);
        }
        return;
    }
    let self_bounded = schema.get("enum").is_some()
        || schema.get("const").is_some()
        || matches!(
            schema["format"].as_str(),
            Some("uuid" | "date-time" | "date")
        );
    if has_type(schema, "string") && !self_bounded && !schema["maxLength"].is_number() {
        out.push(format!("{at}: a string without maxLength: {schema}"));
    }
    if (has_type(schema, "integer") || has_type(schema, "number"))
        && !(schema["minimum"].is_number() && schema["maximum"].is_number())
    {
        out.push(format!(
            "{at}: a number without minimum and maximum: {schema}"
        ));
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            check_schema(doc, property, &format!("{at}.{name}"), visited, out);
        }
    }
    for keyword in ["items", "additionalProperties", "propertyNames"] {
        if schema[keyword].is_object() {
            check_schema(
                doc,
                &schema[keyword],
                &format!("{at}.{keyword}"),
                visited,
                out,
            );
        }
    }
    for keyword in ["oneOf", "anyOf", "allOf", "prefixItems"] {
        for (i, alternative) in schema[keyword].as_array().into_iter().flatten().enumerate() {
            check_schema(
                doc,
                alternative,
                &format!("{at}.{keyword}[{i}]"),
                visited,
                out,
            );
        }
    }
}

/// The bounds in the document are the validation's constants (`#[schema(...)]` takes only
/// literals, so this holds the two together).
#[test]
fn documented_bounds_are_the_validation_limits() {
    use crate::api::{
        checklists, review_items, reviews, service_fields as f, service_probe, users,
    };
    use crate::auth::{api_tokens, session};
    use crate::http::pagination::{MAX_PAGE, MAX_PER_PAGE};

    let doc = serde_json::to_value(crate::startup::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    // `value` of `keyword` at `path` (a property, then keywords) in component `schema`,
    // looking into the alternatives of an optional field.
    let bound = |schema: &str, path: &str, keyword: &str| -> Option<u64> {
        let mut at = &schemas[schema];
        for (i, step) in path.split('.').enumerate() {
            at = if i == 0 {
                &at["properties"][step]
            } else {
                &at[step]
            };
        }
        std::iter::once(at)
            .chain(at["oneOf"].as_array().into_iter().flatten())
            .find_map(|s| s[keyword].as_u64())
    };
    let usize_of = |v: i64| usize::try_from(v).unwrap();
    let interval = &service_probe::INTERVAL_SECONDS;
    let expected: Vec<(&str, &str, &str, usize)> = vec![
        ("LoginRequest", "email", "maxLength", users::MAX_EMAIL),
        (
            "LoginRequest",
            "password",
            "maxLength",
            crate::store::users::MAX_PASSWORD_BYTES,
        ),
        (
            "RefreshRequest",
            "refresh_token",
            "maxLength",
            session::MAX_REFRESH_TOKEN,
        ),
        (
            "CreateApiToken",
            "name",
            "maxLength",
            api_tokens::MAX_TOKEN_NAME,
        ),
        (
            "CreateApiToken",
            "expires_in_days",
            "maximum",
            usize_of(api_tokens::MAX_TOKEN_DAYS),
        ),
        ("CreateUser", "email", "maxLength", users::MAX_EMAIL),
        (
            "CreateUser",
            "password",
            "minLength",
            preflight_security::password::MIN_PASSWORD_LEN,
        ),
        (
            "CreateUser",
            "password",
            "maxLength",
            crate::store::users::MAX_PASSWORD_BYTES,
        ),
        (
            "CreateUser",
            "display_name",
            "maxLength",
            users::MAX_DISPLAY_NAME,
        ),
        (
            "UpdateUser",
            "password",
            "minLength",
            preflight_security::password::MIN_PASSWORD_LEN,
        ),
        (
            "UpdateUser",
            "password",
            "maxLength",
            crate::store::users::MAX_PASSWORD_BYTES,
        ),
        (
            "UpdateUser",
            "display_name",
            "maxLength",
            users::MAX_DISPLAY_NAME,
        ),
        ("AttachChecklist", "title", "maxLength", reviews::MAX_TITLE),
        (
            "CheckUpdate",
            "definition",
            "maxLength",
            checklists::MAX_DEFINITION,
        ),
        ("Contact", "name", "maxLength", f::MAX_CONTACT_NAME),
        ("Contact", "email", "maxLength", f::MAX_CONTACT_EMAIL),
        ("Contact", "phone", "maxLength", f::MAX_CONTACT_PHONE),
        ("Contact", "role", "maxLength", f::MAX_CONTACT_ROLE),
        ("Contact", "notes", "maxLength", f::MAX_CONTACT_NOTES),
        (
            "CredentialsInput",
            "headers",
            "maxProperties",
            f::MAX_HEADERS,
        ),
        (
            "CredentialsInput",
            "headers.propertyNames",
            "maxLength",
            f::MAX_HEADER_NAME,
        ),
        (
            "CredentialsInput",
            "headers.additionalProperties",
            "maxLength",
            f::MAX_HEADER_VALUE,
        ),
        ("EndpointInput", "url", "maxLength", f::MAX_URL),
        ("EndpointInput", "headers", "maxProperties", f::MAX_HEADERS),
        (
            "EndpointInput",
            "headers.propertyNames",
            "maxLength",
            f::MAX_HEADER_NAME,
        ),
        (
            "EndpointInput",
            "headers.additionalProperties",
            "maxLength",
            f::MAX_HEADER_VALUE,
        ),
        (
            "MonitoringInput",
            "job",
            "maxLength",
            service_probe::MAX_SELECTOR,
        ),
        (
            "MonitoringInput",
            "log_selector",
            "maxLength",
            service_probe::MAX_SELECTOR,
        ),
    ];
    let mut expected = expected;
    for schema in ["CreateService", "UpdateService"] {
        expected.extend([
            (schema, "name", "maxLength", f::MAX_NAME),
            (schema, "environment", "maxLength", f::MAX_ENVIRONMENT),
            (schema, "base_url", "maxLength", f::MAX_URL),
            (schema, "description", "maxLength", f::MAX_DESCRIPTION),
            (schema, "owners", "maxItems", f::MAX_OWNERS),
            (schema, "owners.items", "maxLength", f::MAX_OWNER),
            (schema, "contacts", "maxItems", f::MAX_CONTACTS),
            (
                schema,
                "probe_interval_seconds",
                "minimum",
                usize_of((*interval.start()).into()),
            ),
            (
                schema,
                "probe_interval_seconds",
                "maximum",
                usize_of((*interval.end()).into()),
            ),
        ]);
    }
    let mut wrong = Vec::new();
    for (schema, path, keyword, limit) in expected {
        let documented = bound(schema, path, keyword);
        if documented != Some(limit as u64) {
            wrong.push(format!(
                "{schema}.{path} {keyword}: {documented:?}, validation: {limit}"
            ));
        }
    }
    // Names: not blank, no control characters (the pattern is a literal in each `#[schema]`).
    for (schema, path) in [
        ("CreateService", "name"),
        ("UpdateService", "name"),
        ("CreateService", "owners.items"),
        ("UpdateService", "owners.items"),
    ] {
        let mut at = &schemas[schema]["properties"];
        for step in path.split('.') {
            at = &at[step];
        }
        if at["pattern"] != f::NOT_BLANK_NO_CONTROL {
            wrong.push(format!("{schema}.{path} pattern: {}", at["pattern"]));
        }
    }
    for (schema, field) in [
        ("CreateService", "base_url"),
        ("UpdateService", "base_url"),
        ("EndpointInput", "url"),
    ] {
        let pattern = &schemas[schema]["properties"][field]["pattern"];
        if pattern != f::URL_PATTERN {
            wrong.push(format!("{schema}.{field} pattern: {pattern}"));
        }
    }
    // Every comment and reason of an item action.
    for variant in schemas["ItemAction"]["oneOf"].as_array().unwrap() {
        for field in ["comment", "reason"] {
            let property = &variant["properties"][field];
            if !property.is_null()
                && property["maxLength"].as_u64() != Some(review_items::MAX_TEXT as u64)
            {
                wrong.push(format!("ItemAction {field}: {property}"));
            }
        }
    }
    // Query parameters: pagination everywhere, and the name of an import.
    for (method, path, op) in operations(&doc) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            let (name, schema) = (p["name"].as_str().unwrap_or_default(), &p["schema"]);
            let limit = match (path.as_str(), name) {
                (_, "page") => MAX_PAGE,
                (_, "per_page") => MAX_PER_PAGE,
                ("/api/v1/checklists" | "/api/v1/checklists/{id}", "name") if method != "GET" => {
                    if schema["maxLength"].as_u64() != Some(checklists::MAX_NAME as u64)
                        || schema["pattern"] != f::NOT_BLANK_NO_CONTROL
                    {
                        wrong.push(format!("{method} {path} ?name: {schema}"));
                    }
                    continue;
                }
                _ => continue,
            };
            if schema["maximum"].as_u64() != Some(limit) || schema["minimum"].as_u64() != Some(1) {
                wrong.push(format!("{method} {path} ?{name}: {schema}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the document and the validation disagree:\n{}",
        wrong.join("\n")
    );
}

/// The request examples in the document are bodies the handlers take (schemathesis sends
/// them first, and readers copy them).
#[test]
fn request_examples_are_accepted_bodies() {
    use crate::api::{checklists, review_items, service_fields, services, users};
    let doc = serde_json::to_value(crate::startup::openapi()).unwrap();
    let example = |name: &str| doc["components"]["schemas"][name]["example"].clone();
    let create: users::CreateUser = serde_json::from_value(example("CreateUser")).unwrap();
    users::validate_email(&create.email).unwrap();
    assert!(preflight_security::is_weak_password(&create.password).is_none());
    serde_json::from_value::<users::UpdateUser>(example("UpdateUser")).unwrap();
    let service: services::CreateService =
        serde_json::from_value(example("CreateService")).unwrap();
    service_fields::validate_name(&service.name).unwrap();
    service_fields::validate_base_url(service.base_url).unwrap();
    service_fields::validate_contacts(service.contacts).unwrap();
    serde_json::from_value::<services::UpdateService>(example("UpdateService")).unwrap();
    serde_json::from_value::<crate::auth::api_tokens::CreateApiToken>(example("CreateApiToken"))
        .unwrap();
    serde_json::from_value::<review_items::ItemAction>(example("ItemAction")).unwrap();
    let check: checklists::CheckUpdate = serde_json::from_value(example("CheckUpdate")).unwrap();
    assert!(check.resolve().unwrap().is_some());
}
