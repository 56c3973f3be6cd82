//! A service whose handler reports a failure it handles itself with the
//! `sentry` API, as services do: shared by the error tracking tests.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use observe_core::Observe;
use observe_tests::spawn_axum;

/// What a handler does with a failure it handles itself: reports it with
/// the `sentry` API, then answers 500. Planted secrets in the message.
fn report_handled_failure() -> u16 {
    sentry::capture_message(
        "payment declined for alice@example.com token=SECRET-query",
        sentry::Level::Error,
    );
    500
}

/// `GET /pay/{id}`, which reports with the `sentry` API and answers 500,
/// on each framework.
pub(crate) async fn reporting_service(
    framework: observe_tests::Framework,
    observe: &Observe,
) -> std::net::SocketAddr {
    use observe_tests::Framework;
    match framework {
        Framework::Axum => {
            let app = Router::new()
                .route(
                    "/pay/{id}",
                    get(|| async { StatusCode::from_u16(report_handled_failure()).unwrap() }),
                )
                .layer(observe_axum::ObserveLayer::new(observe));
            spawn_axum(app).await
        }
        Framework::Actix => {
            use actix_web::{App, HttpResponse, HttpServer, web};
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let observe = observe.clone();
            std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    HttpServer::new(move || {
                        App::new()
                            .route(
                                "/pay/{id}",
                                web::get().to(|| async {
                                    report_handled_failure();
                                    HttpResponse::InternalServerError().finish()
                                }),
                            )
                            .wrap(observe_actix::ObserveLayer::new(&observe))
                    })
                    .workers(1)
                    .disable_signals()
                    .listen(listener)
                    .unwrap()
                    .run()
                    .await
                })
            });
            addr
        }
        Framework::Tower => {
            // The example's hyper service, with its own route classifier,
            // behind which a service that reports.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let service = tower::ServiceBuilder::new()
                .layer(observe_tower::ObserveLayer::new(observe).route_fn(
                    |req: &http::Request<hyper::body::Incoming>| {
                        req.uri().path().starts_with("/pay/").then_some("/pay/{id}")
                    },
                ))
                .service(tower::service_fn(|_req| async {
                    let status = report_handled_failure();
                    let mut response =
                        http::Response::new(http_body_util::Full::new(bytes::Bytes::new()));
                    *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
                    Ok::<_, std::convert::Infallible>(response)
                }));
            tokio::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    let service = hyper_util::service::TowerToHyperService::new(service.clone());
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
            addr
        }
    }
}
