//! The signals, the layer above the request context: logging, error
//! tracking, tracing, the request event and health. None imports another; where
//! one feeds another (an ERROR line that becomes an error event, the span
//! layer logging installs), the `Observe` facade wires them through a
//! narrow interface. Error tracking and span export sit behind Cargo
//! features (`errors`, `tracing`), logging behind `logging`.

#[cfg(feature = "errors")]
pub mod errors;
pub mod event;
pub mod health;
#[cfg(feature = "logging")]
pub mod logging;
pub mod trace;
