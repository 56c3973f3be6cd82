//! Sends envelopes to Sentry from one thread, through a bounded queue, so a
//! slow, failing or black-holed Sentry costs requests nothing: the queue
//! fills, further events are dropped and counted.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use sentry::protocol::Envelope;
use sentry::types::Dsn;
use sentry::{Transport, TransportFactory, TransportOptions};

use crate::metrics::signals::{DropReason, counters};

/// Envelopes queued or being sent, so `flush` can wait for them.
#[derive(Debug, Default)]
struct Pending {
    count: Mutex<usize>,
    idle: Condvar,
}

impl Pending {
    fn add(&self) {
        *self.count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    }

    fn done(&self) {
        let mut count = self.count.lock().unwrap_or_else(|p| p.into_inner());
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.idle.notify_all();
        }
    }

    fn wait_idle(&self, timeout: Duration) -> bool {
        let count = self.count.lock().unwrap_or_else(|p| p.into_inner());
        let (count, _) = self
            .idle
            .wait_timeout_while(count, timeout, |count| *count > 0)
            .unwrap_or_else(|p| p.into_inner());
        *count == 0
    }
}

/// The transport handed to the Sentry client.
#[derive(Debug, Clone)]
pub(super) struct Sender {
    queue: SyncSender<Envelope>,
    pending: Arc<Pending>,
}

impl Sender {
    /// Starts the sending thread for `dsn`.
    pub(super) fn start(dsn: &Dsn, queue: usize, timeout: Duration) -> std::io::Result<Self> {
        let (sender, receiver) = sync_channel(queue);
        let pending = Arc::new(Pending::default());
        let worker = Worker {
            url: dsn.envelope_api_url().to_string(),
            auth: dsn
                .to_auth(Some(concat!("observe/", env!("CARGO_PKG_VERSION"))))
                .to_string(),
            timeout,
            pending: Arc::clone(&pending),
            paused_until: None,
        };
        std::thread::Builder::new()
            .name("observe-errors".into())
            .spawn(move || worker.run(receiver))?;
        Ok(Self {
            queue: sender,
            pending,
        })
    }
}

impl Transport for Sender {
    fn send_envelope(&self, envelope: Envelope) {
        self.pending.add();
        match self.queue.try_send(envelope) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.pending.done();
                counters().errors.dropped(DropReason::QueueFull);
            }
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        self.pending.wait_idle(timeout)
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        self.pending.wait_idle(timeout)
    }
}

impl TransportFactory for Sender {
    fn create_transport_with_options(&self, _options: TransportOptions) -> Arc<dyn Transport> {
        Arc::new(self.clone())
    }
}

struct Worker {
    url: String,
    auth: String,
    timeout: Duration,
    pending: Arc<Pending>,
    /// Sentry answered 429: nothing is sent before then.
    paused_until: Option<Instant>,
}

impl Worker {
    fn run(mut self, receiver: Receiver<Envelope>) {
        // Built on this thread: reqwest's blocking client owns a runtime
        // that must not be created or dropped inside an async context.
        let client = reqwest::blocking::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(2)))
            .build();
        let client = match client {
            Ok(client) => client,
            Err(_) => {
                // No HTTP client (no TLS roots, say): every event is a
                // failed send, counted, never blocking anyone.
                while receiver.recv().is_ok() {
                    counters().errors.dropped(DropReason::SendFailed);
                    self.pending.done();
                }
                return;
            }
        };
        while let Ok(envelope) = receiver.recv() {
            self.send(&client, &envelope);
            self.pending.done();
        }
    }

    fn send(&mut self, client: &reqwest::blocking::Client, envelope: &Envelope) {
        if let Some(until) = self.paused_until {
            if Instant::now() < until {
                counters().errors.dropped(DropReason::RateLimited);
                return;
            }
            self.paused_until = None;
        }
        let mut body = Vec::with_capacity(4096);
        if envelope.to_writer(&mut body).is_err() {
            counters().errors.dropped(DropReason::SendFailed);
            return;
        }
        let response = client
            .post(&self.url)
            .header("X-Sentry-Auth", &self.auth)
            .header("Content-Type", "application/x-sentry-envelope")
            .body(body)
            .send();
        match response {
            Ok(response) if response.status().is_success() => counters().errors.sent(),
            Ok(response) if response.status().as_u16() == 429 => {
                let headers = response.headers();
                let seconds = headers
                    .get("x-sentry-rate-limits")
                    .and_then(|v| v.to_str().ok())
                    .and_then(rate_limit_seconds)
                    .or_else(|| {
                        headers
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<u64>().ok())
                    })
                    .unwrap_or(60);
                self.paused_until = Some(Instant::now() + Duration::from_secs(seconds));
                counters().errors.dropped(DropReason::RateLimited);
            }
            _ => counters().errors.dropped(DropReason::SendFailed),
        }
    }
}

/// The longest pause in an `X-Sentry-Rate-Limits` header
/// (`60:error;transaction:org, 2700:default:project`); we pause everything,
/// not per category: our envelopes are errors.
fn rate_limit_seconds(header: &str) -> Option<u64> {
    header
        .split(',')
        .filter_map(|limit| limit.trim().split(':').next()?.trim().parse::<u64>().ok())
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_headers_give_the_longest_pause() {
        assert_eq!(
            rate_limit_seconds("60:error;transaction:org, 2700:default:project"),
            Some(2700)
        );
        assert_eq!(rate_limit_seconds("junk"), None);
        assert_eq!(rate_limit_seconds(""), None);
    }
}
