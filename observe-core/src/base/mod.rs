//! The bottom layer: primitives every other layer may use and that use
//! nothing of observe's own. Ids and W3C trace context, the bounded-queue
//! flush handshake, JSON and time formatting, the line opening, the
//! redactor, the service identity and its resource attributes, and the
//! record of what is installed process-wide.

pub(crate) mod ascii;
#[cfg(any(feature = "profiling", feature = "otlp"))]
pub(crate) mod gzip;
pub(crate) mod hash;
pub(crate) mod ids;
#[cfg(feature = "logging")]
pub(crate) mod json;
#[cfg(feature = "logging")]
pub(crate) mod line;
#[cfg(any(feature = "logging", feature = "errors"))]
pub(crate) mod panic_hook;
pub(crate) mod process_wide;
pub(crate) mod queue;
pub(crate) mod resource;
pub(crate) mod sampling;
pub(crate) mod service;
pub(crate) mod time;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub(crate) mod trace_context;
