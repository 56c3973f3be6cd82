//! The admin listener for actix-web: `/metrics`, health, the status page
//! and the runtime log level, answered by observe-core's [`Admin`].

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use observe_core::console::{Admin, AdminRequest, MAX_BODY_BYTES};

use crate::endpoint::metrics_response;

/// Every admin endpoint of `admin` (see [`observe_core::console`]), to
/// `configure` the `App` of the admin listener's `HttpServer` with:
///
/// ```no_run
/// # fn run(observe: observe_actix::Observe) -> Result<(), Box<dyn std::error::Error>> {
/// use actix_web::{App, HttpServer};
/// use observe_actix::console::{Admin, AdminConfig};
///
/// if let Some(config) = AdminConfig::from_env()? {
///     let admin = Admin::new(&observe, config)?;
///     let addr = admin.addr();
///     let server = HttpServer::new(move || App::new().configure(observe_actix::admin_endpoints(&admin)))
///         .workers(1)
///         .bind(addr)?
///         .run();
///     # drop(server);
/// }
/// # Ok(())
/// # }
/// ```
pub fn admin_endpoints(admin: &Admin) -> impl Fn(&mut web::ServiceConfig) + Clone + 'static {
    let admin = admin.clone();
    move |config: &mut web::ServiceConfig| {
        let admin = admin.clone();
        config.default_service(web::to(
            move |request: HttpRequest, payload: web::Payload| {
                let admin = admin.clone();
                async move {
                    // One byte over the limit is enough for observe-core to
                    // answer 413 (as JSON), after the checks that come first.
                    let body = match payload.to_bytes_limited(MAX_BODY_BYTES + 1).await {
                        Ok(Ok(body)) => body.to_vec(),
                        Err(_limit_exceeded) => vec![0; MAX_BODY_BYTES + 1],
                        // The client broke off: nothing was sent.
                        Ok(Err(_)) => Vec::new(),
                    };
                    answer(&admin, &request, &body).await
                }
            },
        ));
    }
}

async fn answer(admin: &Admin, request: &HttpRequest, body: &[u8]) -> HttpResponse {
    if Admin::is_metrics(request.path()) && request.method() == actix_web::http::Method::GET {
        return metrics_response(admin.observe(), request).await;
    }
    let headers = request.headers();
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let answer = admin
        .handle(AdminRequest {
            method: request.method().as_str(),
            path: request.path(),
            query: request.uri().query(),
            authorization: headers
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes),
            authorization_headers: headers.get_all(header::AUTHORIZATION).count(),
            host: text(header::HOST).or_else(|| request.uri().authority().map(|a| a.as_str())),
            // Present but not text is a foreign origin too, not none.
            origin: headers
                .get(header::ORIGIN)
                .map(|v| v.to_str().unwrap_or("")),
            content_type: text(header::CONTENT_TYPE),
            accept: text(header::ACCEPT),
            peer: request.peer_addr(),
            body,
        })
        .await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.insert_header((HeaderName::from_static(name), value));
        }
    }
    response.body(answer.body)
}
