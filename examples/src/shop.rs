//! The demo domain: users behind a simulated database, and orders.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A user as returned by `GET /users/{id}`.
#[derive(Debug, Serialize)]
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

/// Looks a user up after a few milliseconds of simulated database time.
pub async fn find_user(id: u64) -> Result<User, LookupError> {
    tokio::time::sleep(Duration::from_millis(2 + id % 4)).await;
    match id {
        0 => Err(LookupError::NotFound),
        1_000_000.. => Err(LookupError::Database),
        id => Ok(User {
            id,
            name: format!("user-{id}"),
        }),
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

/// The longest `/slow` sleep, so a request cannot hold a worker forever.
pub const MAX_SLOW_MS: u64 = 5000;

/// Sleeps `ms` milliseconds, capped at [`MAX_SLOW_MS`].
pub async fn slow(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms.min(MAX_SLOW_MS))).await;
}
