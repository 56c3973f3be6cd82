//! The public constructor (`Transform`).

use std::future::{Ready, ready};

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use observe_core::Observe;

use crate::body::ObservedBody;
use crate::service::ObserveService;

/// actix-web middleware recording each request in an [`Observe`]. Add it
/// with `App::wrap`. Named as on tower and axum, where the same thing is a
/// layer: one noun for one thing on every framework.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    observe: Observe,
}

impl ObserveLayer {
    /// Middleware recording into `observe`. Built in the `HttpServer`'s App
    /// factory, it adds each worker's runtime to `/metrics`' saturation
    /// families ([`Observe::add_runtime`](observe_core::Observe::add_runtime)).
    pub fn new(observe: &Observe) -> Self {
        // Built in each worker's App factory, on that worker's runtime.
        observe_core::integration::add_current_runtime(observe);
        Self {
            observe: observe.clone(),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for ObserveLayer
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<ObservedBody<B>>;
    type Error = Error;
    type Transform = ObserveService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ObserveService::new(service, self.observe.clone())))
    }
}
