//! `GET /metrics` as a tower service.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use observe_core::Observe;
use tower_service::Service;

/// The metrics of an [`Observe`] as a `Service<http::Request<B>>`: every
/// request it is given is answered with the exposition, in the format its
/// `Accept` header negotiates (OpenMetrics, Prometheus text, or with native
/// histograms on, the Prometheus protobuf format); methods other than `GET`
/// and `HEAD` get 405. Route `/metrics` to it, or serve it alone on a
/// listener of its own.
///
/// It renders inline, in the caller's task: on a busy multi-threaded
/// runtime with a large registry, call it from a blocking task (the axum and
/// actix-web endpoints do).
///
/// ```
/// use http::Request;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let observe = observe_tower::Observe::builder().build().unwrap();
/// let response = observe_tower::metrics_endpoint(&observe)
///     .oneshot(Request::new(String::new()))
///     .await
///     .unwrap();
/// assert_eq!(response.status(), 200);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MetricsEndpoint {
    observe: Observe,
}

/// The metrics endpoint of `observe`; see [`MetricsEndpoint`].
pub fn metrics_endpoint(observe: &Observe) -> MetricsEndpoint {
    MetricsEndpoint {
        observe: observe.clone(),
    }
}

impl<B> Service<Request<B>> for MetricsEndpoint {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(metrics_response(&self.observe, &request)))
    }
}

/// The exposition answering `request` (its method and `Accept` header).
pub(crate) fn metrics_response<B>(
    observe: &Observe,
    request: &Request<B>,
) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let scrape = observe.scrape(accept);
    let mut response = Response::new(Full::new(Bytes::from(scrape.body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(scrape.content_type),
    );
    response
}
