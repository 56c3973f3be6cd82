//! What the operator console shows that the exposition does not: rolling
//! windows over the HTTP histograms and the lists of failed and slow
//! requests. Nothing here exists, and nothing is computed per request,
//! until an admin listener asks for it ([`install`]).

pub(crate) mod recent;
pub(crate) mod window;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Instant, SystemTime};

pub(crate) use recent::{KeptCall, KeptRequest, Recent};
pub(crate) use window::{RouteWindows, Windows};

use super::Families;
use super::runtime::Saturation;
use crate::encoding::{Format, counter_header, write_counter};

/// The console's state for one `Observe`.
#[derive(Debug)]
pub(crate) struct Console {
    pub(crate) recent: Recent,
    pub(crate) windows: Mutex<Windows>,
    /// When the console began following: its windows start here.
    pub(crate) started: Instant,
    pub(crate) started_at: SystemTime,
    /// Admin writes refused for a missing or wrong token.
    pub(crate) unauthorized: AtomicU64,
    /// The runtimes' figures at each tick of the last minute or so, oldest
    /// first: the busy ratio is read over them.
    pub(crate) saturation: Mutex<std::collections::VecDeque<(Instant, Saturation)>>,
}

/// Ticks of saturation history kept: a minute, and the tick before it.
const SATURATION_KEPT: usize = 7;

impl Console {
    /// Counts a refused admin write.
    pub(crate) fn count_unauthorized(&self) {
        self.unauthorized.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes `observe_admin_unauthorized_total`.
    pub(crate) fn render(
        &self,
        out: &mut String,
        format: Format,
        const_labels: &str,
        created: f64,
    ) {
        counter_header(
            out,
            format,
            "observe_admin_unauthorized",
            "Admin listener writes refused for a missing or wrong token.",
        );
        write_counter(
            out,
            format,
            "observe_admin_unauthorized",
            const_labels,
            self.unauthorized.load(Ordering::Relaxed),
            created,
        );
    }

    /// Bytes the console holds at most, whatever the traffic: the upper
    /// bound the 1 MiB is checked against.
    #[cfg(test)]
    pub(crate) fn max_bytes(&self, request_id_max: usize) -> usize {
        let windows = self
            .windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .max_bytes();
        windows + Recent::max_bytes(request_id_max, 0)
    }

    /// The runtimes' saturation now: workers, global queue depth, and the
    /// share of the workers' time spent busy since the oldest sample kept
    /// (about a minute ago; since the console began, at first). `None`
    /// when no runtime is reported on.
    pub(crate) fn saturation(&self, families: &Families) -> Option<(Saturation, Option<f64>)> {
        let now = families.runtimes.read();
        if now.runtimes == 0 {
            return None;
        }
        // The oldest sample of the same runtimes, else their addition.
        let history = self.saturation.lock().unwrap_or_else(|p| p.into_inner());
        let since = history
            .iter()
            .copied()
            .find(|(_, then)| then.runtimes == now.runtimes)
            .or_else(|| families.runtimes.since_added());
        let ratio = since.and_then(|(at, then)| {
            let seconds = at.elapsed().as_secs_f64() * now.workers as f64;
            (seconds > 0.0 && now.workers == then.workers)
                .then(|| ((now.busy_seconds - then.busy_seconds) / seconds).clamp(0.0, 1.0))
        });
        Some((now, ratio))
    }

    /// Keeps the runtimes' figures of this tick.
    fn sample_saturation(&self, families: &Families, now: Instant) {
        let figures = families.runtimes.read();
        let mut history = self.saturation.lock().unwrap_or_else(|p| p.into_inner());
        if history.len() == SATURATION_KEPT {
            history.pop_front();
        }
        history.push_back((now, figures));
    }

    /// The windows of every followed route, now.
    pub(crate) fn read_windows(&self, families: &Families) -> Vec<RouteWindows> {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .read(&families.http, Instant::now())
    }
}

/// The console of `families`, set up on the first call: from then on the
/// recorder keeps failed and slow requests, and a thread named
/// `observe-console` advances the windows every
/// [`TICK`](window::TICK) until the families are dropped.
pub(crate) fn install(families: &Arc<Families>) -> &Console {
    let mut first = false;
    let console = families.console.get_or_init(|| {
        first = true;
        let now = Instant::now();
        Console {
            recent: Recent::new(now),
            windows: Mutex::new(Windows::new(&families.http, now)),
            started: now,
            started_at: SystemTime::now(),
            unauthorized: AtomicU64::new(0),
            saturation: Mutex::new(std::collections::VecDeque::new()),
        }
    });
    if first {
        console.sample_saturation(families, Instant::now());
    }
    if first {
        let weak: Weak<Families> = Arc::downgrade(families);
        // Without the thread the windows still read live (one tick, since
        // start); a machine out of threads loses the history only.
        let _ = std::thread::Builder::new()
            .name("observe-console".into())
            .spawn(move || advance(&weak));
    }
    console
}

fn advance(families: &Weak<Families>) {
    loop {
        std::thread::sleep(window::TICK);
        let Some(families) = families.upgrade() else {
            return;
        };
        if let Some(console) = families.console.get() {
            let now = Instant::now();
            console
                .windows
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .tick(&families.http, now);
            console.sample_saturation(&families, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::MAX_REQUEST_ID;

    #[test]
    fn the_console_holds_at_most_one_mebibyte() {
        for buckets in [15, 40, 200] {
            let now = Instant::now();
            let bounds = (1..buckets).map(|i| i as f64).collect();
            let http = crate::metrics::HttpMetrics::new(&[], bounds, vec![1.0], &[], 1000, false);
            let console = Console {
                recent: Recent::new(now),
                windows: Mutex::new(Windows::new(&http, now)),
                started: now,
                started_at: SystemTime::now(),
                unauthorized: AtomicU64::new(0),
                saturation: Mutex::new(std::collections::VecDeque::new()),
            };
            let bytes = console.max_bytes(MAX_REQUEST_ID);
            assert!(bytes <= 1024 * 1024, "{buckets} buckets: {bytes} bytes");
        }
    }
}
