//! The TLS crypto provider the signals that send (error tracking, span
//! export) need before their first https connection.

/// Installs rustls' `ring` crypto provider as the process default, unless
/// one is installed already; safe to call more than once.
///
/// observe builds `reqwest` with rustls but without a default provider
/// (`ring` builds faster and smaller than `aws-lc-rs`; it has no
/// post-quantum key exchange: install aws-lc-rs' provider before observe's
/// signals start where that matters). Error tracking and
/// trace export call this before their first connection. Because Cargo
/// unifies features, a `reqwest` client built by the application without
/// its own TLS features then needs a provider too: call this first (the
/// example services' relay does).
///
/// ```
/// observe_core::install_crypto_provider();
/// observe_core::install_crypto_provider(); // a second call changes nothing
/// // Now reqwest::Client::new() can open https connections.
/// ```
pub fn install_crypto_provider() {
    // rustls 0.23.48 deprecates ring's provider (it has no post-quantum key
    // exchange) without a ring replacement; aws-lc-rs has one but builds
    // far slower, for connections to the operator's own Sentry, collector
    // and Prometheus. An application that installs aws-lc-rs first wins.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    // An error means a provider is installed already, which is what we want.
    let _ = provider.install_default();
}
