//! A hyper server for the public port and the admin listener that a flood
//! cannot take down (feature `server`, default on): accept errors back off and retry,
//! unfinished request heads and idle connections are closed, connections
//! are capped, and shutdown is graceful.
//!
//! ```no_run
//! # #[cfg(feature = "shutdown")]
//! # async fn run(observe: observe_tower::Observe, admin: observe_tower::console::Admin)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use http::{Request, Response};
//! use observe_tower::{ObserveLayer, Shutdown, server::Server};
//! use tower::{ServiceBuilder, service_fn};
//!
//! // The admin listener: /metrics and the probes, on its own port and budget.
//! tokio::spawn(observe_tower::server::serve_admin(admin));
//! let service = ServiceBuilder::new()
//!     .layer(ObserveLayer::new(&observe))
//!     .service(service_fn(|_req: Request<hyper::body::Incoming>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(String::from("hello")))
//!     }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! let shutdown = Shutdown::new(&observe); // SIGTERM or Ctrl-C, then a drain deadline
//! let server = Server::new().serve(listener, move |_peer| service.clone(), shutdown.signal());
//! shutdown.drain(server).await?;
//! # Ok(())
//! # }
//! ```
//!
//! What it does that a hand-written accept loop usually does not:
//!
//! | threat | answer | setting (default) |
//! |---|---|---|
//! | descriptors run out (`EMFILE`), or another accept error | logged at WARN at most once a second (with how many were not logged), retried after a back-off of 10 ms doubling to 1 s; never ends the loop | |
//! | a client sends half a request head (slowloris), or nothing | the connection is closed when the head has not arrived in time | [`Server::header_timeout`] (10 s) |
//! | an idle keep-alive connection | closed after the same time without a new request head (HTTP/1); HTTP/2 connections whose peer stops answering pings are closed | [`Server::header_timeout`]; pings every 20 s |
//! | too many connections at once | no more are accepted until one closes (they wait in the kernel's backlog), so a quarter of the descriptors stays free for the admin listener and the service's own clients | [`Server::max_connections`] (10,000, fewer under a low `ulimit -n`; the admin listener 64) |
//! | shutdown | stops accepting at once, tells open connections to finish the request in progress, returns when all closed | the `shutdown` future |
//!
//! HTTP/1.1 and HTTP/2 (prior knowledge, as gRPC clients speak it) are
//! both served on the same port, and HTTP/1 upgrades (WebSocket) work.
//!
//! The admin listener ([`serve_admin`]) is served the same way with a
//! budget of its own (64 connections, 5 s head timeout): the public port's
//! cap leaves it descriptors, so `/health/*` and `/metrics` answer during a
//! flood on the public port, and a flood on the admin port cannot hold more
//! than 64. Should the descriptors run out anyway (the service's own
//! clients), both keep retrying and answer again once some are free.
//!
//! Bound the drain with [`Shutdown::drain`](crate::Shutdown) (feature
//! `shutdown`): `serve` itself waits as long as requests take.
//!
//! # Memory after a flood
//!
//! A process's resident memory grows during a flood of slow connections
//! and does not come back down afterwards, with or without observe. That
//! is glibc's allocator keeping freed memory for later, not memory still
//! held: after nine rounds of 2,000 slow connections
//! (`bench/flood-memory.sh`, two workers), resident memory was
//!
//! | server | start | after 9 rounds | after `malloc_trim(0)` |
//! |---|---:|---:|---:|
//! | bare `axum::serve` | 6.0 MB | 30.8 MB | 6.8 MB |
//! | `axum::serve` + observe's layer | 6.2 MB | 33.0 MB | 7.1 MB |
//! | this server + observe's layer | 6.2 MB | 22.7–38 MB | 6.5–11.7 MB |
//! | bare actix-web | 6.3 MB | 41.5 MB | 6.8 MB |
//! | actix-web + observe's middleware | 6.4 MB | 41.9 MB | 6.8 MB |
//!
//! Most of it comes with the first round; later rounds add less (the
//! allocator reuses part of what it kept), and `MALLOC_ARENA_MAX=2` does
//! not change it. A service that must
//! give memory back after bursts can use an allocator that returns it
//! (jemalloc or mimalloc as the global allocator) or call glibc's
//! `malloc_trim(0)` itself.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use observe_core::console::{ADMIN_HEADER_TIMEOUT, ADMIN_MAX_CONNECTIONS, Admin};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower_service::Service;

/// Default for [`Server::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an HTTP/2 connection is pinged, and how long the answer may
/// take before the connection is closed.
const HTTP2_KEEP_ALIVE: Duration = Duration::from_secs(20);

/// The longest back-off after an accept error.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The HTTP/2 connection preface a prior-knowledge client starts with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A hyper server with the limits a public port needs; see the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct Server {
    header_timeout: Duration,
    max_connections: usize,
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    /// A server with the defaults: a 10 s head timeout, and at most
    /// [`public_connection_budget`](observe_core::console::public_connection_budget)
    /// connections (10,000, or fewer under a low `ulimit -n`: a quarter of
    /// the descriptors stays free for the admin listener).
    pub fn new() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: observe_core::console::public_connection_budget(),
        }
    }

    /// How long a client may take to send a request head: from the
    /// connection's start, and (HTTP/1) from the end of the previous
    /// response on a keep-alive connection. Connections that do not make it
    /// are closed. Default [`DEFAULT_HEADER_TIMEOUT`]; at least 1 ms.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The most connections served at once; further ones wait, unaccepted,
    /// until one closes. Keep it below the process's descriptor limit
    /// (`ulimit -n`) minus what the service needs for its own clients and
    /// the admin listener. Default
    /// [`public_connection_budget`](observe_core::console::public_connection_budget);
    /// at least 1.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// Serves each connection accepted on `listener` with the service
    /// `service_for(peer)` makes, until `shutdown` completes; then stops
    /// accepting (the listener is closed at once), lets each connection
    /// finish the request in progress, and returns when every connection
    /// has closed. It never fails (accept errors are retried): the
    /// `Result` is for [`Shutdown::drain`](crate::Shutdown), which takes a
    /// server that may.
    pub async fn serve<M, S, B>(
        self,
        listener: TcpListener,
        mut service_for: M,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), Infallible>
    where
        M: FnMut(SocketAddr) -> S,
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let budget = Arc::new(Semaphore::new(self.max_connections));
        let (stop, stopping) = watch::channel(false);
        let mut errors = AcceptErrors::default();
        let mut shutdown = pin!(shutdown);
        loop {
            let permit = tokio::select! {
                () = &mut shutdown => break,
                permit = Arc::clone(&budget).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break, // never closed
                },
            };
            let accepted = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => {
                    errors.reset();
                    accepted
                }
                Err(error) => {
                    let pause = errors.failed(&error);
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(pause) => continue,
                    }
                }
            };
            let service = TowerToHyperService::new(service_for(peer));
            let mut stopping = stopping.clone();
            let header_timeout = self.header_timeout;
            tokio::spawn(async move {
                // A connection error (reset, bad request line, timeout) ends
                // that connection only; hyper answers malformed requests.
                let _ = serve_connection(stream, service, header_timeout, &mut stopping).await;
                drop(permit);
            });
        }
        // Refuse new connections at once: a load balancer moves on.
        drop(listener);
        let _ = stop.send(true);
        // Every connection gives its permit back when it closes.
        let all = u32::try_from(self.max_connections).unwrap_or(u32::MAX);
        let _ = budget.acquire_many(all).await;
        Ok(())
    }
}

/// Serves `admin`'s endpoints ([`admin_endpoints`](crate::admin_endpoints),
/// each connection knowing its peer) on the admin listener's own address,
/// with the admin budget: [`ADMIN_MAX_CONNECTIONS`] connections, a head
/// timeout of [`ADMIN_HEADER_TIMEOUT`]. Runs until the process ends; spawn
/// it.
///
/// # Errors
///
/// The admin address cannot be bound.
pub async fn serve_admin(admin: Admin) -> io::Result<()> {
    let listener = TcpListener::bind(admin.addr()).await?;
    serve_admin_on(listener, admin).await;
    Ok(())
}

/// [`serve_admin`] on a listener bound already (for example to port 0 in
/// a test); runs until the process ends.
pub async fn serve_admin_on(listener: TcpListener, admin: Admin) {
    let _ = Server::new()
        .header_timeout(ADMIN_HEADER_TIMEOUT)
        .max_connections(ADMIN_MAX_CONNECTIONS)
        .serve(
            listener,
            move |peer| crate::admin_endpoints(&admin).peer(peer),
            std::future::pending(),
        )
        .await;
}

/// One connection: HTTP/2 when it starts with the preface, else HTTP/1
/// (with upgrades), each with its timeouts; graceful when `stopping`
/// turns true.
async fn serve_connection<S, B>(
    stream: TcpStream,
    service: TowerToHyperService<S>,
    header_timeout: Duration,
    stopping: &mut watch::Receiver<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Nothing at all within the head timeout: close. (hyper's own head
    // timeout starts once a protocol is chosen, which needs bytes.)
    let http2 = tokio::time::timeout(header_timeout, starts_with_preface(&stream)).await??;
    if *stopping.borrow() {
        return Ok(());
    }
    let io = TokioIo::new(stream);
    if http2 {
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .keep_alive_interval(HTTP2_KEEP_ALIVE)
            .keep_alive_timeout(HTTP2_KEEP_ALIVE);
        let connection = builder.serve_connection(io, service);
        drive(connection, stopping, |c| c.graceful_shutdown()).await
    } else {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let connection = builder.serve_connection(io, service).with_upgrades();
        drive(connection, stopping, |c| c.graceful_shutdown()).await
    }
}

/// Runs `connection` to its end, asking it to finish gracefully once
/// `stopping` turns true.
async fn drive<C, E>(
    connection: C,
    stopping: &mut watch::Receiver<bool>,
    graceful: impl FnOnce(Pin<&mut C>),
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    C: Future<Output = Result<(), E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut connection = pin!(connection);
    tokio::select! {
        result = connection.as_mut() => return result.map_err(Into::into),
        _ = stopping.wait_for(|stop| *stop) => graceful(connection.as_mut()),
    }
    connection.await.map_err(Into::into)
}

/// Whether the client's first bytes are HTTP/2's preface; waits until they
/// tell (they are peeked, not read). An early end of stream is an error.
async fn starts_with_preface(stream: &TcpStream) -> io::Result<bool> {
    let mut buf = [0u8; H2_PREFACE.len()];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if buf[..n] != H2_PREFACE[..n] {
            return Ok(false);
        }
        if n == H2_PREFACE.len() {
            return Ok(true);
        }
        // A prefix of the preface so far: wait for more.
        stream.readable().await?;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Accept errors: the back-off, and a WARN line at most once a second.
#[derive(Debug, Default)]
struct AcceptErrors {
    /// Consecutive failures.
    streak: u32,
    /// Failures not logged since the last line.
    unlogged: u64,
    last_logged: Option<Instant>,
}

impl AcceptErrors {
    fn reset(&mut self) {
        self.streak = 0;
    }

    /// Logs `error` (rate-limited) and returns how long to wait. A failed
    /// handshake (the client reset the connection before it was accepted)
    /// is the client's problem: retried at once and not logged.
    fn failed(&mut self, error: &io::Error) -> Duration {
        if matches!(
            error.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionRefused
        ) {
            return Duration::ZERO;
        }
        let now = Instant::now();
        if self
            .last_logged
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
        {
            self.last_logged = Some(now);
            tracing::warn!(
                target: "observe::server",
                error = %error,
                unlogged = std::mem::take(&mut self.unlogged),
                "cannot accept a connection; retrying"
            );
        } else {
            self.unlogged += 1;
        }
        // 10 ms, doubling per consecutive failure, at most 1 s.
        let pause = Duration::from_millis(10).saturating_mul(1 << self.streak.min(7));
        self.streak = self.streak.saturating_add(1);
        pause.min(MAX_BACKOFF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_doubles_to_a_second_and_resets() {
        let mut errors = AcceptErrors::default();
        let emfile = io::Error::from_raw_os_error(24);
        let pauses: Vec<_> = (0..9).map(|_| errors.failed(&emfile)).collect();
        assert_eq!(pauses[0], Duration::from_millis(10));
        assert_eq!(pauses[1], Duration::from_millis(20));
        assert_eq!(pauses[6], Duration::from_millis(640));
        assert_eq!(pauses[7], MAX_BACKOFF);
        assert_eq!(pauses[8], MAX_BACKOFF);
        errors.reset();
        assert_eq!(errors.failed(&emfile), Duration::from_millis(10));
        let reset = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(errors.failed(&reset), Duration::ZERO);
    }
}
