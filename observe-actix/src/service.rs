//! The middleware service and its future.

use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::MessageBody;
use actix_web::dev::ResourceMap;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, forward_ready};
use actix_web::http::Uri;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, HttpResponse, ResponseError};
use observe_core::Observe;
use observe_core::context::LateRoute;
use observe_core::integration::{CaughtPanic, RequestTracker, poll_handler};
use pin_project_lite::pin_project;

use crate::body::ObservedBody;
use crate::head::{Head, Names};
use crate::route::matched_route;

/// The service produced by [`ObserveLayer`](crate::ObserveLayer).
#[derive(Debug)]
pub struct ObserveService<S> {
    service: S,
    observe: Observe,
    names: Rc<Names>,
    /// The app's routes, copied once per worker (a shallow clone), to name
    /// the route of a request cancelled before its handler answered.
    routes: OnceCell<Rc<ResourceMap>>,
}

impl<S> ObserveService<S> {
    pub(crate) fn new(service: S, observe: Observe) -> Self {
        Self {
            service,
            names: Rc::new(Names::new(&observe)),
            observe,
            routes: OnceCell::new(),
        }
    }
}

impl<S, B> Service<ServiceRequest> for ObserveService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<ObservedBody<B>>;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        // The route is read after the call: before it, actix has not routed
        // yet and `match_pattern()` would route the request a second time.
        let head = Head {
            request: &request,
            names: &self.names,
        };
        let tracker = self.observe.track(&head, None, None);
        let routes = self
            .routes
            .get_or_init(|| Rc::new(request.resource_map().clone()));
        let unanswered = Rc::new(Unanswered {
            routes: Rc::clone(routes),
            uri: request.uri().clone(),
        });
        ResponseFuture {
            inner: self.service.call(request),
            tracker: Some(tracker),
            unanswered: Some(unanswered),
            names: Rc::clone(&self.names),
            catch_panics: self.observe.catches_panics(),
        }
    }
}

/// What names the route of a request dropped before its handler answered:
/// the request itself is inside the handler by then.
#[derive(Debug)]
struct Unanswered {
    routes: Rc<ResourceMap>,
    uri: Uri,
}

impl Unanswered {
    /// Matches the path once more (guards cannot be evaluated any more) so
    /// a panicked or cancelled request keeps its route.
    fn name_route(&self, tracker: &mut RequestTracker) {
        tracker.route_after_handler(self.late_route().as_deref());
    }
}

impl LateRoute for Unanswered {
    fn late_route(&self) -> Option<String> {
        self.routes.match_pattern(self.uri.path())
    }
}

pin_project! {
    /// Future of [`ObserveService`]. Dropping it before it completes records
    /// the request as cancelled.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        tracker: Option<RequestTracker>,
        unanswered: Option<Rc<Unanswered>>,
        names: Rc<Names>,
        catch_panics: bool,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // Cancelled before an answer; the tracker's drop then records it.
            if let (Some(tracker), Some(unanswered)) = (this.tracker.as_mut(), this.unanswered.take()) {
                unanswered.name_route(tracker);
            }
        }
    }
}

impl<F, B> Future for ResponseFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<ObservedBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        // Handler code sees the request's context; its route is named on
        // demand, since actix routes inside the inner service. With
        // catching off, observe-core records a panic as it unwinds.
        let late = this
            .unanswered
            .as_ref()
            .map(|u| Rc::clone(u) as Rc<dyn LateRoute>);
        let polled = poll_handler(this.tracker, *this.catch_panics, late.as_ref(), || {
            inner.poll(cx)
        });
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(mut response))) => {
                let mut tracker = this.tracker.take();
                if let Some(tracker) = tracker.as_mut() {
                    // After the call: the resource that really handled it.
                    let route = matched_route(response.request());
                    tracker.route_after_handler(route.as_deref());
                    let id = tracker.response(response.status().as_u16());
                    // A response that carries an id already keeps it.
                    let name = &this.names.request_id;
                    if !response.headers().contains_key(name)
                        && let Ok(id) = HeaderValue::from_bytes(id)
                    {
                        response.headers_mut().insert(name.clone(), id);
                    }
                }
                Poll::Ready(Ok(
                    response.map_body(|_, body| ObservedBody::new(body, tracker))
                ))
            }
            Ok(Poll::Ready(Err(error))) => {
                // actix turns the error into a response after the middleware
                // chain; its status is known now and its body is small.
                if let Some(mut tracker) = this.tracker.take() {
                    if let Some(unanswered) = this.unanswered.take() {
                        unanswered.name_route(&mut tracker);
                    }
                    tracker.response(error.as_response_error().status_code().as_u16());
                    tracker.finish();
                }
                Poll::Ready(Err(error))
            }
            Err(CaughtPanic) => {
                let mut request_id = None;
                if let Some(mut tracker) = this.tracker.take() {
                    if let Some(unanswered) = this.unanswered.take() {
                        unanswered.name_route(&mut tracker);
                    }
                    request_id = Some(Box::from(tracker.request_id()));
                    tracker.panicked();
                }
                // The request moved into the handler, so the 500 is built by
                // actix from this error, after the middleware chain. (Cloning
                // the request up front is not an option: actix's routing
                // needs it unshared.)
                Poll::Ready(Err(HandlerPanicked {
                    request_id,
                    header: this.names.request_id.clone(),
                }
                .into()))
            }
        }
    }
}

/// The error a panicking handler becomes: an empty 500, as on axum.
#[derive(Debug)]
struct HandlerPanicked {
    request_id: Option<Box<str>>,
    header: HeaderName,
}

impl std::fmt::Display for HandlerPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request handler panicked")
    }
}

impl ResponseError for HandlerPanicked {
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::InternalServerError();
        if let Some(id) = &self.request_id {
            response.insert_header((self.header.clone(), id.as_ref()));
        }
        response.finish()
    }
}
