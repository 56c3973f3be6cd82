//! The admin listener served by observe: its own `HttpServer`, with the
//! admin connection budget and head timeout.

use actix_web::{App, HttpServer};
use observe_core::console::{ADMIN_HEADER_TIMEOUT, ADMIN_MAX_CONNECTIONS, Admin};

use crate::admin_endpoints;

/// The admin listener of `admin`, bound to its address and ready to run
/// (spawn it on the actix System): every admin endpoint
/// ([`admin_endpoints`]), one worker, at most
/// [`ADMIN_MAX_CONNECTIONS`] connections, and a client
/// that does not send a request head within [`ADMIN_HEADER_TIMEOUT`], or
/// stays idle that long, is cut off. It does not listen for signals:
/// probes and scrapes go on while the service drains.
///
/// actix-web's server already retries accept errors (out of descriptors)
/// after a pause, so a flood on the public port cannot end it: it answers
/// again as soon as descriptors are free.
///
/// ```no_run
/// # fn run(observe: observe_actix::Observe) -> Result<(), Box<dyn std::error::Error>> {
/// use observe_actix::console::{Admin, AdminConfig};
///
/// if let Some(config) = AdminConfig::from_env()? {
///     let admin = Admin::new(&observe, config)?;
///     actix_web::rt::spawn(observe_actix::serve_admin(&admin)?);
/// }
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// The admin address cannot be bound.
pub fn serve_admin(admin: &Admin) -> std::io::Result<actix_web::dev::Server> {
    serve_admin_on(std::net::TcpListener::bind(admin.addr())?, admin)
}

/// [`serve_admin`] on a listener bound already (for example to port 0, to
/// log the address it got).
///
/// # Errors
///
/// The listener cannot be used (e.g. not listening).
pub fn serve_admin_on(
    listener: std::net::TcpListener,
    admin: &Admin,
) -> std::io::Result<actix_web::dev::Server> {
    let admin = admin.clone();
    let server = HttpServer::new(move || App::new().configure(admin_endpoints(&admin)))
        .workers(1)
        .max_connections(ADMIN_MAX_CONNECTIONS)
        .client_request_timeout(ADMIN_HEADER_TIMEOUT)
        .keep_alive(ADMIN_HEADER_TIMEOUT)
        .disable_signals()
        .listen(listener)?
        .run();
    Ok(server)
}
