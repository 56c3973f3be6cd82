//! The request recorder, the layer above the signals: the only caller of
//! every signal per request. A framework crate hands over its request as a
//! [`RequestHead`], then the status, the body's progress and the end; the
//! handles a service records with inside a request ([`Cache`],
//! [`Dependency`]) live here too.

mod body;
mod cache;
mod dependency;
pub(crate) mod head;
mod poll;
mod tracker;

pub use body::BodyRecorder;
pub use cache::Cache;
pub use dependency::Dependency;
pub use head::{Header, RequestHead, request_body_size};
pub use poll::{CaughtPanic, poll_handler};
pub use tracker::{RequestTracker, RouteCache};
pub(crate) use tracker::{start, track};
