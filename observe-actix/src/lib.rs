//! actix-web middleware for observe.
//!
//! Not implemented yet: this crate reserves its place in the workspace. It
//! will translate actix-web requests and responses into observe-core's
//! neutral types, exactly as `observe-axum` does for axum, so both record the
//! same series. Until then, use `observe-axum` or `observe-tower`.
