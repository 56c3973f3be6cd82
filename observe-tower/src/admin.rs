//! The admin listener as a tower service: `/metrics`, health, the status
//! page and the runtime log level, answered by observe-core's [`Admin`].

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use observe_core::console::{Admin, AdminRequest, AdminResponse, MAX_BODY_BYTES};
use tower_service::Service;

/// Every admin endpoint of an [`Admin`] (see [`observe_core::console`]) as
/// a `Service<http::Request<B>>`, for a hyper server on the admin
/// listener. `/metrics` renders inline: on a busy multi-threaded runtime
/// with a large registry, serve it from a blocking task instead.
///
/// ```
/// use observe_core::console::{Admin, AdminConfig};
///
/// let observe = observe_core::Observe::builder().build().unwrap();
/// let config = AdminConfig::new("127.0.0.1:9464".parse().unwrap());
/// let admin = Admin::new(&observe, config).unwrap();
/// // Per connection, with the peer's address for the audit line.
/// let service = observe_tower::admin_endpoints(&admin).peer("127.0.0.1:50000".parse().unwrap());
/// # let _ = service;
/// ```
#[derive(Debug, Clone)]
pub struct AdminEndpoints {
    admin: Admin,
    peer: Option<SocketAddr>,
}

/// Every admin endpoint of `admin`; see [`AdminEndpoints`].
pub fn admin_endpoints(admin: &Admin) -> AdminEndpoints {
    AdminEndpoints {
        admin: admin.clone(),
        peer: None,
    }
}

impl AdminEndpoints {
    /// The connection's peer, named in the audit line of a log-level
    /// change.
    pub fn peer(mut self, peer: SocketAddr) -> Self {
        self.peer = Some(peer);
        self
    }
}

impl<B> Service<Request<B>> for AdminEndpoints
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let admin = self.admin.clone();
        let peer = self.peer;
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            // One byte over the limit is enough for observe-core to answer
            // 413, after the checks that come first.
            let body = match Limited::new(body, MAX_BODY_BYTES + 1).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => Bytes::from(vec![0; MAX_BODY_BYTES + 1]),
            };
            let headers = &parts.headers;
            let text = |name| {
                headers
                    .get(name)
                    .and_then(|v: &HeaderValue| v.to_str().ok())
            };
            let answer = admin
                .handle(AdminRequest {
                    method: parts.method.as_str(),
                    path: parts.uri.path(),
                    query: parts.uri.query(),
                    authorization: headers
                        .get(header::AUTHORIZATION)
                        .map(HeaderValue::as_bytes),
                    authorization_headers: headers.get_all(header::AUTHORIZATION).iter().count(),
                    host: text(header::HOST).or_else(|| parts.uri.authority().map(|a| a.as_str())),
                    // Present but not text is a foreign origin too, not none.
                    origin: headers
                        .get(header::ORIGIN)
                        .map(|v| v.to_str().unwrap_or("")),
                    content_type: text(header::CONTENT_TYPE),
                    accept: text(header::ACCEPT),
                    peer,
                    body: &body,
                })
                .await;
            Ok(into_response(answer))
        })
    }
}

fn into_response(answer: AdminResponse) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}
