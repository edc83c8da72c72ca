//! The outermost layer of every route: the request id ([`super::request_id`]), problem
//! documents for bare errors ([`super::problem`]), the security headers ([`super::headers`]),
//! metrics and the access-log line ([`super::observe`]), in one pass.
//!
//! One hand-written tower service instead of one `axum::middleware::from_fn` per concern:
//! each `from_fn` layer boxes a clone of everything inside it and its own future on every
//! request, which showed in the profile of the cheapest routes.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use tower::{Layer, Service};

use super::headers::HeaderPolicy;
use super::observe::{self, RequestMetrics};
use super::{problem, request_id};
use crate::request_context;

struct Shared {
    policy: HeaderPolicy,
    metrics: RequestMetrics,
}

/// See the module documentation.
#[derive(Clone)]
pub struct EdgeLayer(Arc<Shared>);

impl EdgeLayer {
    pub fn new(policy: HeaderPolicy) -> Self {
        Self(Arc::new(Shared {
            policy,
            metrics: RequestMetrics::default(),
        }))
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            shared: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let shared = self.shared.clone();
        let start = Instant::now();
        let (id, id_header) = request_id::assign(&mut req);
        let method = req.method().clone();
        // Route templates, not raw paths, keep label cardinality bounded.
        let route = req.extensions().get::<MatchedPath>().cloned();
        let is_docs = req.uri().path().starts_with("/docs");
        let in_flight = shared.metrics.start();
        // Called here, not in the future: the inner service is ready now (`poll_ready`), and
        // its future owns what it needs, so nothing has to be cloned per request.
        let inner = self.inner.call(req);
        Box::pin(async move {
            // The problem document of a bare error names the request id: rewrite in scope.
            let mut res = request_context::scope(id.clone(), async move {
                match inner.await {
                    Ok(res) => problem::rewrite_bare_error(res),
                    Err(never) => match never {},
                }
            })
            .await;
            drop(in_flight);
            shared.policy.apply(is_docs, res.headers_mut());
            res.headers_mut().insert(request_id::HEADER, id_header);
            let elapsed = start.elapsed();
            let status = res.status().as_u16();
            let route = route
                .as_ref()
                .map_or(observe::UNMATCHED, MatchedPath::as_str);
            shared.metrics.record(route, &method, status, elapsed);
            observe::log(&id, &method, route, status, elapsed);
            Ok(res)
        })
    }
}
