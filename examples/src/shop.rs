//! The demo domain, framework-free: users behind a cache and a simulated
//! database, orders behind a three-state feature flag. It is instrumented
//! with observe's application metrics, so every example records the same
//! cache, dependency and state series.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use observe_core::{Cache, Dependency, MetricError, Observe, StateSet};
use serde::{Deserialize, Serialize};

/// A user as returned by `GET /users/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// The id from the path.
    pub id: u64,
    /// A display name.
    pub name: String,
}

/// Why a lookup failed.
#[derive(Debug, PartialEq, Eq)]
pub enum LookupError {
    /// No such user (id 0): answered with 404.
    NotFound,
    /// The simulated database failed (id >= 1,000,000): answered with 500.
    Database,
}

/// The simulated database failing.
#[derive(Debug)]
pub struct DatabaseError;

impl std::fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the simulated database refused the connection")
    }
}

/// A few milliseconds of simulated database time (plus `delay`); ids from
/// 1,000,000 fail.
async fn select_user(id: u64, delay: Duration) -> Result<Option<User>, DatabaseError> {
    tokio::time::sleep(Duration::from_millis(2 + id % 4) + delay).await;
    match id {
        0 => Ok(None),
        1_000_000.. => Err(DatabaseError),
        id => Ok(Some(User {
            id,
            name: format!("user-{id}"),
        })),
    }
}

observe_core::states! {
    /// The `SHOP_CHECKOUT_V2` feature flag: how `POST /orders` validates.
    pub enum CheckoutV2 {
        Disabled => "disabled",
        Shadowing => "shadowing",
        InUse => "in_use",
    }
}

impl CheckoutV2 {
    /// Reads `SHOP_CHECKOUT_V2`; unset is `disabled`.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("SHOP_CHECKOUT_V2").as_deref() {
            Err(_) | Ok("disabled") => Ok(Self::Disabled),
            Ok("shadowing") => Ok(Self::Shadowing),
            Ok("in_use") => Ok(Self::InUse),
            Ok(other) => Err(format!(
                "invalid SHOP_CHECKOUT_V2={other:?}: expected one of disabled, shadowing, in_use"
            )),
        }
    }
}

/// Demo knobs that make an instance a bad canary on purpose:
/// `SHOP_FAULT_RATE` (the share of `GET /users/{id}` answering 500),
/// `SHOP_DB_DELAY_MS` (added to every database call) and `SHOP_DB_DOWN`
/// (`1`: the database's health check fails).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Share of user lookups that fail, 0 to 1.
    pub fault_rate: f64,
    /// Added database latency.
    pub db_delay: Duration,
    /// The database refuses the health check's connection.
    pub db_down: bool,
}

impl Faults {
    /// Reads `SHOP_FAULT_RATE` and `SHOP_DB_DELAY_MS`; unset is none.
    pub fn from_env() -> Result<Self, String> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let fault_rate = match var("SHOP_FAULT_RATE") {
            None => 0.0,
            Some(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    format!(
                        "invalid SHOP_FAULT_RATE={text:?}: expected a share from 0 to 1, e.g. 0.2"
                    )
                })?,
        };
        let db_delay = match var("SHOP_DB_DELAY_MS") {
            None => Duration::ZERO,
            Some(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms <= MAX_SLOW_MS)
                .map(Duration::from_millis)
                .ok_or_else(|| {
                    format!(
                        "invalid SHOP_DB_DELAY_MS={text:?}: expected whole milliseconds from 0 to {MAX_SLOW_MS}, e.g. 300"
                    )
                })?,
        };
        let db_down = match var("SHOP_DB_DOWN").as_deref().map(str::trim) {
            None | Some("0") => false,
            Some("1") => true,
            Some(other) => {
                return Err(format!("invalid SHOP_DB_DOWN={other:?}: expected 0 or 1"));
            }
        };
        Ok(Self {
            fault_rate,
            db_delay,
            db_down,
        })
    }
}

/// The most users kept in the cache.
const CACHE_CAPACITY: usize = 10_000;

/// The shop's state and instrumentation, shared by every request.
#[derive(Debug)]
pub struct Shop {
    users: Arc<Mutex<HashMap<u64, User>>>,
    cache: Cache,
    database: Dependency,
    checkout: StateSet<CheckoutV2>,
    upstream: OnceLock<Upstream>,
    faults: OnceLock<Faults>,
    /// User lookups so far, to spread injected faults evenly.
    lookups: AtomicU64,
}

/// Another instance `GET /relay/{id}` asks for the user: the second hop of
/// a distributed trace.
#[derive(Debug)]
struct Upstream {
    base: String,
    client: reqwest::Client,
    api: Dependency,
}

/// Why a relayed lookup failed.
#[derive(Debug, PartialEq, Eq)]
pub enum RelayError {
    /// No upstream is configured (`SHOP_UPSTREAM`): answered with 404.
    Off,
    /// The upstream has no such user: 404.
    NotFound,
    /// The upstream failed or could not be reached: 502.
    BadGateway,
}

impl Shop {
    /// A shop recording into `observe`: registers `shop_user_cache_entries`
    /// (read at scrape time) and the `shop_checkout_v2` flag.
    pub fn new(observe: &Observe, checkout: CheckoutV2) -> Result<Arc<Self>, MetricError> {
        let users: Arc<Mutex<HashMap<u64, User>>> = Arc::default();
        let weak = Arc::downgrade(&users);
        observe.gauge_fn(
            "shop_user_cache_entries",
            "Users in the cache.",
            move || {
                weak.upgrade()
                    .map_or(0.0, |u| u.lock().map_or(0.0, |u| u.len() as f64))
            },
        )?;
        let checkout = observe.state_set(
            "shop_checkout_v2",
            "The checkout v2 feature flag.",
            checkout,
        )?;
        Ok(Arc::new(Self {
            users,
            cache: observe.cache("users"),
            database: observe.dependency("postgres"),
            checkout,
            upstream: OnceLock::new(),
            faults: OnceLock::new(),
            lookups: AtomicU64::new(0),
        }))
    }

    /// Sends `GET /relay/{id}` on to `base` (`http://host:port`, another
    /// example service), as the `upstream` dependency, with the trace
    /// context in the request headers. Errors name `SHOP_UPSTREAM`.
    pub fn set_upstream(&self, observe: &Observe, base: &str) -> Result<(), String> {
        let accepted = base.starts_with("http://") || base.starts_with("https://");
        if !accepted || base.len() < 8 {
            return Err(format!(
                "invalid SHOP_UPSTREAM={base:?}: expected a base URL such as http://127.0.0.1:3000"
            ));
        }
        // reqwest is built with rustls and no default crypto provider.
        observe_core::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("cannot build the SHOP_UPSTREAM client: {e}"))?;
        let upstream = Upstream {
            base: base.trim_end_matches('/').to_string(),
            client,
            api: observe.dependency("upstream"),
        };
        self.upstream
            .set(upstream)
            .map_err(|_| "the upstream is already set".to_string())
    }

    /// Asks the upstream for user `id`.
    pub async fn relay(&self, id: u64) -> Result<User, RelayError> {
        let upstream = self.upstream.get().ok_or(RelayError::Off)?;
        let url = format!("{}/users/{id}", upstream.base);
        let fetched = upstream
            .api
            .call("get_user", async {
                // Inside the call: the outgoing `traceparent` names its span.
                let request = observe_core::trace::inject_reqwest(upstream.client.get(url));
                let response = request.send().await?;
                let status = response.status().as_u16();
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, body))
            })
            .await;
        match fetched {
            Ok((200, body)) => serde_json::from_slice(&body).map_err(|_| RelayError::BadGateway),
            Ok((404, _)) => Err(RelayError::NotFound),
            _ => Err(RelayError::BadGateway),
        }
    }

    /// Injects `faults` (once; later calls are ignored).
    pub fn inject(&self, faults: Faults) {
        let _ = self.faults.set(faults);
    }

    /// Whether this lookup fails by injection: exactly `fault_rate` of
    /// them, spread evenly (lookup n fails when floor(n * rate) steps up).
    fn injected_fault(&self) -> bool {
        let rate = self.faults.get().map_or(0.0, |f| f.fault_rate);
        if rate <= 0.0 {
            return false;
        }
        let n = self.lookups.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * rate).floor() > (n * rate).floor()
    }

    /// The readiness check of the database: a round trip to it (with the
    /// injected delay); fails with `SHOP_DB_DOWN=1`.
    pub async fn ping_database(&self) -> Result<(), DatabaseError> {
        let faults = self.faults.get().copied().unwrap_or_default();
        tokio::time::sleep(Duration::from_millis(1) + faults.db_delay).await;
        if faults.db_down {
            return Err(DatabaseError);
        }
        Ok(())
    }

    /// Looks a user up in the cache, then in the database. Labels the
    /// request with the user's plan (`plan`: `free` or `pro`) for a service
    /// that declares the label (`ObserveBuilder::http_label("plan")`, as
    /// the tests do); where it is not declared that is a no-op.
    pub async fn find_user(&self, id: u64) -> Result<User, LookupError> {
        let plan = if id.is_multiple_of(2) { "pro" } else { "free" };
        let _undeclared_is_fine = observe_core::context::set_http_label("plan", plan);
        if self.injected_fault() {
            return Err(LookupError::Database);
        }
        if let Some(user) = self.cached(id) {
            self.cache.hit();
            // Off in production; `info,observe_examples=debug` at run time.
            tracing::debug!(user_id = id, "user found in the cache");
            return Ok(user);
        }
        self.cache.miss();
        tracing::debug!(user_id = id, "user not in the cache: asking the database");
        let delay = self.faults.get().map_or(Duration::ZERO, |f| f.db_delay);
        match self
            .database
            .call("select_user", select_user(id, delay))
            .await
        {
            Ok(Some(user)) => {
                let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
                if users.len() < CACHE_CAPACITY {
                    users.insert(id, user.clone());
                }
                Ok(user)
            }
            Ok(None) => Err(LookupError::NotFound),
            Err(DatabaseError) => {
                // Someone should look, but one failed lookup pages nobody.
                tracing::warn!(user_id = id, "user lookup failed");
                Err(LookupError::Database)
            }
        }
    }

    fn cached(&self, id: u64) -> Option<User> {
        self.users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    /// Validates an order the way the checkout flag says: v1, v2, or v1
    /// answering while v2 runs in its shadow.
    pub fn place_order(&self, body: &[u8]) -> Option<Order> {
        let order = match self.checkout.get() {
            CheckoutV2::Disabled => parse_order(body),
            CheckoutV2::InUse => parse_order_v2(body),
            CheckoutV2::Shadowing => {
                let v1 = parse_order(body);
                let _ = parse_order_v2(body);
                v1
            }
        };
        if let Some(order) = &order {
            observe_core::add_event_field("order_quantity", order.quantity);
        }
        order
    }
}

/// The body of `POST /orders`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// What is ordered.
    pub item: String,
    /// How many, at least one.
    pub quantity: u32,
}

/// Parses an order; any body that is not a valid order is a 422, whatever
/// the framework's own extractor would have said, so every example answers
/// alike.
pub fn parse_order(body: &[u8]) -> Option<Order> {
    serde_json::from_slice::<Order>(body)
        .ok()
        .filter(|o| o.quantity >= 1 && !o.item.is_empty())
}

/// Parses the `{id}` of `/users/{id}` and `/api/v1/items/{id}`; anything
/// but a decimal `u64` is a 400 in every example.
pub fn parse_id(raw: &str) -> Option<u64> {
    raw.parse().ok()
}

/// An item as returned by `GET /api/v1/items/{id}` (the nested route).
#[derive(Debug, Serialize)]
pub struct Item {
    /// The id from the path.
    pub id: u64,
    /// Price in cents.
    pub price_cents: u64,
}

/// Looks an item up; no I/O.
pub fn find_item(id: u64) -> Item {
    Item {
        id,
        price_cents: 100 + id % 900,
    }
}

/// The largest `POST /orders` body accepted; larger bodies get a 413.
pub const MAX_ORDER_BYTES: usize = 1024 * 1024;

/// The `ms` parameter of `/slow?ms=N` from the raw query string: absent is
/// 0, unparsable is a 400 (`None`).
pub fn slow_ms(query: Option<&str>) -> Option<u64> {
    let value = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("ms="));
    match value {
        None => Some(0),
        Some(v) => v.parse().ok(),
    }
}

/// Checkout v2's validation: v1's rules plus a bound on the item's length.
fn parse_order_v2(body: &[u8]) -> Option<Order> {
    parse_order(body).filter(|o| o.item.len() <= 200)
}

/// The longest `/slow` sleep, so a request cannot hold a worker forever.
pub const MAX_SLOW_MS: u64 = 5000;

/// Sleeps `ms` milliseconds, capped at [`MAX_SLOW_MS`].
pub async fn slow(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms.min(MAX_SLOW_MS))).await;
}
