//! Added cost per request of the observe layer: the same request through a
//! bare service, through a no-op layer, and through `ObserveLayer`, with the
//! response body read to the end (which is when observe records).

#![allow(missing_docs)]

use std::convert::Infallible;
use std::task::{Context, Poll};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use observe_tower::ObserveLayer;
use tower::{Layer, Service, ServiceExt, service_fn};

/// A layer that does nothing: the floor any middleware pays.
#[derive(Clone)]
struct Noop<S>(S);

impl<S: Service<R>, R> Service<R> for Noop<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }
    fn call(&mut self, req: R) -> S::Future {
        self.0.call(req)
    }
}

async fn handler(_req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"{\"id\":7,\"name\":\"user-7\"}",
    ))))
}

fn request() -> Request<Full<Bytes>> {
    Request::builder()
        .uri("/users/7")
        .body(Full::new(Bytes::new()))
        .expect("valid request")
}

async fn drive<S, B>(service: S)
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible>,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let response = service.oneshot(request()).await.expect("infallible");
    let body = response.into_body().collect().await.expect("body");
    std::hint::black_box(body);
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let observe = observe_core::Observe::builder()
        .build()
        .expect("default settings");
    let layer =
        ObserveLayer::new(&observe).route_fn(|_: &Request<Full<Bytes>>| Some("/users/{id}"));
    let bare = service_fn(handler);

    let mut group = c.benchmark_group("per_request");
    group.bench_function("bare", |b| b.to_async(&rt).iter(|| drive(bare)));
    group.bench_function("noop_layer", |b| b.to_async(&rt).iter(|| drive(Noop(bare))));
    // Built once and cloned per request, as servers do: clones share the
    // route cache.
    let observed = layer.layer(bare);
    group.bench_function("observe_layer", |b| {
        b.to_async(&rt).iter(|| drive(observed.clone()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
