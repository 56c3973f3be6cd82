//! Destinations for the request events beyond the log lines, each behind
//! a feature, with its own bounded queue, thread and counters.

#[cfg(feature = "clickhouse")]
pub mod clickhouse;
