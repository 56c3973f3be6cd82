//! The public constructor (`Transform`).

use std::future::{Ready, ready};

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use observe_core::Observe;

use crate::body::ObservedBody;
use crate::service::ObserveService;

/// actix-web middleware recording each request in an [`Observe`]. Add it
/// with `App::wrap`.
#[derive(Debug, Clone)]
pub struct ObserveMiddleware {
    observe: Observe,
}

impl ObserveMiddleware {
    /// Middleware recording into `observe`.
    pub fn new(observe: &Observe) -> Self {
        Self {
            observe: observe.clone(),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for ObserveMiddleware
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
