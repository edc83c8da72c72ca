//! In-process tests of the middleware stack for failures a black-box test cannot provoke.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use tower::ServiceExt;

use super::*;

async fn state(dir: &std::path::Path, extra: &[(&str, &str)]) -> AppState {
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
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    // A free port: the application binds its listener as production does.
    env.insert("PORT".into(), "0".into());
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
    // Exactly what `preflight serve` starts (but does not serve here).
    let app = crate::app::Application::build(settings).await.unwrap();
    app.state().clone()
}

async fn body_json(res: axum::response::Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_problem_without_internals() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), &[]).await;
    let routes = Router::new().route(
        "/boom",
        get(|| async {
            panic!("secret internal detail: db password hunter2");
            #[allow(unreachable_code)]
            ""
        }),
    );
    let app = with_middleware(routes, state);
    let res = app
        .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body = body_json(res).await;
    assert_eq!(body["type"], "urn:preflight:problem:internal");
    assert!(!body.to_string().contains("hunter2"));
    assert!(!body.to_string().contains("secret internal"));
}

#[tokio::test]
async fn a_request_past_the_timeout_is_a_503_problem() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), &[("REQUEST_TIMEOUT", "50ms")]).await;
    let routes = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            "late"
        }),
    );
    let app = with_middleware(routes, state);
    let res = app
        .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(body_json(res).await["status"], 503);
}
