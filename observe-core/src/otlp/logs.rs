//! Log lines and request events as OTLP `LogRecord`s
//! (`OTEL_LOGS_EXPORTER=otlp`, with the `logging` feature).
//!
//! Each producer of a line (the log layer, the request event, a panic, an
//! audit line) writes its `LogRecord` at format time, beside the JSON line
//! when stdout gets one and instead of it when it does not, and hands the
//! finished record straight to this exporter's bounded queue (logging's
//! writer thread only flushes it with stdout). The exporter's thread
//! batches them (up to [`LOG_BATCH_RECORDS`] records or one second) and
//! posts an `ExportLogsServiceRequest`. A record holds
//! what its JSON line holds:
//! - `timestamp` → `time_unix_nano` (and `observed_time_unix_nano`: the
//!   record is observed when it is written); `level` → `severity_number`
//!   (TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17) and `severity_text`;
//!   `message` → the body; `trace_id`, `span_id` → the record's ids;
//! - the request event (`event`, target `observe::request`) →
//!   `event_name` `observe.request` and attributes under the semantic
//!   conventions' names where one exists ([`EVENT_ATTRIBUTES`]: `http.request.method`,
//!   `http.route`, `http.response.status_code`, `error.type`,
//!   `http.request.body.size`, `http.response.body.size`), the rest under
//!   their event names (`duration_ms`, `dependencies`, `cache`, ...;
//!   objects and arrays as OTLP maps and arrays; durations as doubles;
//!   what the line has as `null` left out);
//! - `fields` → attributes by their names; `target`, `original_level`,
//!   `request_id` → attributes;
//! - `service` → the resource's `service.name` (records are grouped by it).
//!
//! A unit test holds that a record equals what a reader of the JSON line
//! would make of it.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::Level;

use super::proto::{resource, scope};
use super::{Destination, Signal, Transport};
use crate::base::ids::TraceIds;
use crate::base::line::LineRequest;
use crate::base::queue::{Flushed, flush_through};
use crate::base::service::Service;
use crate::encoding::protobuf::wire::{Writer, varint_len};
use crate::metrics::signals::counters;

/// Records per export request at most (the specification's default).
pub const LOG_BATCH_RECORDS: usize = 512;
/// The request event's fields whose record attributes take the semantic
/// conventions' names, as (field, attribute); the others keep their
/// names.
pub const EVENT_ATTRIBUTES: [(&str, &str); 6] = [
    ("method", "http.request.method"),
    ("route", "http.route"),
    ("status", "http.response.status_code"),
    ("error_type", "error.type"),
    ("request_body_bytes", "http.request.body.size"),
    ("response_body_bytes", "http.response.body.size"),
];

/// Records waiting for the exporter at most; more are dropped and counted.
pub const LOG_QUEUE_LINES: usize = 8192;
/// How long a record waits for its batch to fill at most.
const SCHEDULE_DELAY: Duration = Duration::from_secs(1);

enum Message {
    Record(Exported),
    Flush(SyncSender<()>),
}

/// The exporter's end of the queue: the threads writing records push to
/// it, logging's writer thread flushes it.
#[derive(Debug, Clone)]
pub(crate) struct LineExporter {
    sender: SyncSender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl LineExporter {
    /// Starts the exporter thread for `service` (the installing instance,
    /// whose resource attributes its lines get).
    pub(crate) fn start(destination: Destination, service: Service) -> Result<Self, String> {
        let transport = Transport::new(Signal::Logs, destination)?;
        let (sender, receiver) = sync_channel(LOG_QUEUE_LINES);
        std::thread::Builder::new()
            .name("observe-otlp-logs".into())
            .spawn(move || export(&receiver, &transport, &service))
            .map_err(|e| e.to_string())?;
        Ok(Self { sender })
    }

    /// Queues a record; never blocks. A full queue drops it and counts it.
    pub(crate) fn push(&self, record: Exported) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.sender.try_send(Message::Record(record))
        {
            counters().otlp.dropped(Signal::Logs.index(), true, 1);
        }
    }

    /// Exports what is queued and waits for it, until `deadline`.
    pub(crate) fn flush(&self, deadline: Instant) -> bool {
        flush_through(&self.sender, Message::Flush, deadline) == Flushed::Done
    }
}

/// The exporter thread.
fn export(receiver: &Receiver<Message>, transport: &Transport, service: &Service) {
    let mut batch: Vec<Exported> = Vec::with_capacity(LOG_BATCH_RECORDS);
    let mut oldest: Option<Instant> = None;
    let send = |batch: &mut Vec<Exported>| {
        if batch.is_empty() {
            return;
        }
        let body = encode(batch, service);
        if !transport.send(body) {
            counters()
                .otlp
                .dropped(Signal::Logs.index(), false, batch.len() as u64);
        }
        batch.clear();
    };
    // Polled, as logging's writer thread is, not blocked in `recv`: a
    // blocked receiver makes every sender wake it (a futex call and the
    // channel's waker bookkeeping per record, ~700 instructions in
    // `bench/instructions.sh`). Idle, the pause doubles up to 50 ms.
    const BUSY: Duration = Duration::from_millis(1);
    const IDLE: Duration = Duration::from_millis(50);
    let mut pause = BUSY;
    loop {
        match receiver.try_recv() {
            Ok(Message::Record(record)) => {
                batch.push(record);
                oldest.get_or_insert_with(Instant::now);
                if batch.len() >= LOG_BATCH_RECORDS {
                    send(&mut batch);
                    oldest = None;
                }
                pause = BUSY;
            }
            Ok(Message::Flush(ack)) => {
                send(&mut batch);
                oldest = None;
                let _ = ack.send(());
            }
            Err(TryRecvError::Empty) => {
                if oldest.is_some_and(|t| t.elapsed() >= SCHEDULE_DELAY) {
                    send(&mut batch);
                    oldest = None;
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(IDLE);
            }
            Err(TryRecvError::Disconnected) => {
                send(&mut batch);
                return;
            }
        }
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

// Field numbers of opentelemetry/proto/logs/v1/logs.proto.
mod field {
    pub(super) const RESOURCE_LOGS: u32 = 1;
    pub(super) const SCOPE_LOGS: u32 = 2;
    pub(super) const LOG_RECORDS: u32 = 2;
    pub(super) const TIME: u32 = 1;
    pub(super) const SEVERITY_NUMBER: u32 = 2;
    pub(super) const SEVERITY_TEXT: u32 = 3;
    pub(super) const BODY: u32 = 5;
    pub(super) const ATTRIBUTES: u32 = 6;
    pub(super) const FLAGS: u32 = 8;
    pub(super) const TRACE_ID: u32 = 9;
    pub(super) const SPAN_ID: u32 = 10;
    pub(super) const OBSERVED_TIME: u32 = 11;
    pub(super) const EVENT_NAME: u32 = 12;
}

/// A record being written by its line's producer, at format time, as
/// the JSON line is (not read back from it): the opening
/// ([`Record::begin`]), the body and the attributes, then
/// [`Record::finish`] adds the time, the severity and the ids.
///
/// Reading the finished JSON line back cost ~12,600 instructions per line
/// in `bench/instructions.sh` (serde_json's scan of every string, number
/// and key); written here, a record costs about what its JSON line does.
#[derive(Debug)]
pub(crate) struct Record {
    w: Writer,
    time: u64,
    level: Level,
    trace: Option<TraceIds>,
    event: bool,
    service: Option<Box<str>>,
}

/// A finished record, for the exporter's queue: its `LogRecord` bytes and
/// the service it speaks for when that is not the installing instance
/// (`None` for the installing one).
#[derive(Debug)]
pub(crate) struct Exported {
    bytes: Vec<u8>,
    service: Option<Box<str>>,
}

impl Record {
    /// Opens a record: the attributes every line has (`original_level`
    /// when remapped, `target`, the request's `request_id`), as the
    /// line's opening has them; `capacity` bytes reserved.
    pub(crate) fn begin(
        level: Level,
        original: Level,
        target: &str,
        request: Option<LineRequest<'_>>,
        capacity: usize,
    ) -> Self {
        let mut record = Self {
            w: Writer::with_capacity(capacity),
            time: now_nanos(),
            level,
            trace: request.map(|r| r.trace),
            event: false,
            service: None,
        };
        let mut attributes = record.attributes();
        if original != level {
            attributes.string("original_level", original.as_str());
        }
        attributes.string("target", target);
        if let Some(request) = request {
            attributes.string("request_id", request.request_id);
        }
        record
    }

    /// The line speaks for another instance than the installing one.
    pub(crate) fn set_service(&mut self, name: &str) {
        self.service = Some(name.into());
    }

    /// The message, as the body.
    pub(crate) fn body(&mut self, text: &str) {
        self.w.len_header(field::BODY, string_size(text.len()));
        self.w.string(1, text);
    }

    /// The record's attributes.
    pub(crate) fn attributes(&mut self) -> Attributes<'_> {
        Attributes {
            w: &mut self.w,
            field: field::ATTRIBUTES,
        }
    }

    /// The request event's attributes; the record gets `event_name`
    /// `observe.request`.
    pub(crate) fn event(&mut self) -> Attributes<'_> {
        self.event = true;
        self.attributes()
    }

    /// The time, severity, ids and event name, after everything else.
    pub(crate) fn finish(self) -> Exported {
        let Self {
            mut w,
            time,
            level,
            trace,
            event,
            service,
        } = self;
        trailer(&mut w, time, time, level.as_str(), trace, event);
        Exported {
            bytes: w.into_bytes(),
            service,
        }
    }
}

/// The bytes of a string field of `len` bytes with a one-byte key.
fn string_size(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// What every record ends with.
fn trailer(
    w: &mut Writer,
    time: u64,
    observed: u64,
    level: &str,
    trace: Option<TraceIds>,
    event: bool,
) {
    w.fixed64(field::TIME, time);
    w.fixed64(field::OBSERVED_TIME, observed);
    w.int64(field::SEVERITY_NUMBER, severity(level));
    w.string(field::SEVERITY_TEXT, level);
    if let Some(trace) = trace {
        w.bytes(field::TRACE_ID, &trace.trace_id);
        // The line carries no sampled flag.
        w.fixed32(field::FLAGS, 0);
        w.bytes(field::SPAN_ID, &trace.span_id);
    }
    if event {
        w.string(field::EVENT_NAME, "observe.request");
    }
}

/// Key-value pairs: a record's attributes, or a map attribute's entries.
pub(crate) struct Attributes<'w> {
    w: &'w mut Writer,
    field: u32,
}

impl Attributes<'_> {
    /// A `KeyValue` whose `AnyValue` takes `any` bytes, which `value`
    /// writes: every length is known before the bytes are written.
    fn pair(&mut self, key: &str, any: usize, value: impl FnOnce(&mut Writer)) {
        let pair = string_size(key.len()) + 1 + varint_len(any as u64) + any;
        self.w.len_header(self.field, pair);
        self.w.string(1, key);
        self.w.len_header(2, any);
        value(self.w);
    }

    /// A `KeyValue` whose `AnyValue` is written by `value` (a map or an
    /// array, whose size is known only once written).
    fn nested(&mut self, key: &str, value: impl FnOnce(&mut Writer)) {
        self.w.message(self.field, |kv| {
            kv.string(1, key);
            kv.message(2, value);
        });
    }

    /// A string.
    pub(crate) fn string(&mut self, key: &str, value: &str) {
        self.pair(key, string_size(value.len()), |any| any.string(1, value));
    }

    /// A boolean.
    pub(crate) fn bool(&mut self, key: &str, value: bool) {
        self.pair(key, 2, |any| any.uint64(2, u64::from(value)));
    }

    /// An integer (a double past `i64`, as a JSON reader takes it).
    pub(crate) fn int(&mut self, key: &str, value: impl Into<i128>) {
        let value = value.into();
        match i64::try_from(value) {
            Ok(v) => self.pair(key, 1 + varint_len(v as u64), |any| any.int64(3, v)),
            Err(_) => self.pair(key, 9, |any| any.double(4, value as f64)),
        }
    }

    /// A double; none for NaN or an infinity (a JSON line's `null`).
    pub(crate) fn double(&mut self, key: &str, value: f64) {
        if value.is_finite() {
            self.pair(key, 9, |any| any.double(4, value));
        }
    }

    /// A map.
    pub(crate) fn map(&mut self, key: &str, write: impl FnOnce(&mut Attributes<'_>)) {
        self.nested(key, |any| {
            any.message(6, |list| write(&mut Attributes { w: list, field: 1 }));
        });
    }

    /// An array of maps, one per item.
    pub(crate) fn maps<I: IntoIterator>(
        &mut self,
        key: &str,
        items: I,
        mut write: impl FnMut(&mut Attributes<'_>, I::Item),
    ) {
        self.nested(key, |any| {
            any.message(5, |array| {
                for item in items {
                    array.message(1, |value| {
                        value.message(6, |list| {
                            write(&mut Attributes { w: list, field: 1 }, item);
                        });
                    });
                }
            });
        });
    }
}

/// The request for `records`, grouped by the service each speaks for.
pub(crate) fn encode(records: &[Exported], installing: &Service) -> Vec<u8> {
    // Grouped by service (`None`: the installing one), in first-seen order.
    let mut services: Vec<Option<&str>> = Vec::new();
    for record in records {
        let service = record.service.as_deref();
        if !services.contains(&service) {
            services.push(service);
        }
    }
    let size = records.iter().map(|r| r.bytes.len() + 4).sum::<usize>();
    let mut w = Writer::with_capacity(size + 256 * services.len());
    let mut scope_bytes = Writer::with_capacity(64);
    scope(&mut scope_bytes);
    let scope_bytes = scope_bytes.into_bytes();
    for service in services {
        let speaks_for = |record: &&Exported| record.service.as_deref() == service;
        let mut resource_bytes = Writer::with_capacity(256);
        match service {
            None => resource(&mut resource_bytes, installing),
            Some(name) => resource_bytes.message(1, |r| {
                super::proto::string_attribute(r, 1, "service.name", name)
            }),
        }
        let resource_bytes = resource_bytes.into_bytes();
        // Sizes first: a batch is not moved to make room for its lengths.
        let scope_logs = scope_bytes.len()
            + records
                .iter()
                .filter(speaks_for)
                .map(|r| string_size(r.bytes.len()))
                .sum::<usize>();
        let resource_logs = resource_bytes.len() + string_size(scope_logs);
        w.len_header(field::RESOURCE_LOGS, resource_logs);
        w.extend(&resource_bytes);
        w.len_header(field::SCOPE_LOGS, scope_logs);
        w.extend(&scope_bytes);
        for record in records.iter().filter(speaks_for) {
            w.raw_message(field::LOG_RECORDS, &record.bytes);
        }
    }
    w.into_bytes()
}

fn severity(level: &str) -> i64 {
    match level {
        "TRACE" => 1,
        "DEBUG" => 5,
        "INFO" => 9,
        "WARN" => 13,
        "ERROR" => 17,
        _ => 0,
    }
}

/// The test's end of an exporter's queue.
#[cfg(test)]
pub(crate) struct TestQueue(Receiver<Message>);

#[cfg(test)]
impl TestQueue {
    /// An exporter whose queue a test reads instead of a thread.
    pub(crate) fn exporter() -> (LineExporter, TestQueue) {
        let (sender, receiver) = sync_channel(16);
        (LineExporter { sender }, TestQueue(receiver))
    }

    /// The next record queued, if any.
    pub(crate) fn next(&self) -> Option<Exported> {
        match self.0.try_recv() {
            Ok(Message::Record(record)) => Some(record),
            _ => None,
        }
    }
}

#[cfg(test)]
impl Exported {
    /// Names the service (the JSON line always does).
    pub(crate) fn set_service_for_test(&mut self, name: &str) {
        self.service = Some(name.into());
    }
}

/// The reference records are held to: a reader of JSON lines (what a
/// JSON line means as a `LogRecord`; the exporter read lines back this
/// way before records were written at format time), and the comparison.
#[cfg(test)]
pub(crate) mod reference {
    use super::*;

    use std::borrow::Cow;

    /// Asserts that `record` is the `LogRecord` of `line` (the same
    /// fields, attributes in the same order, the same service), with
    /// times less than a second apart (the line keeps microseconds).
    pub(crate) fn assert_same(line: &str, record: Exported) {
        let mut w = Writer::with_capacity(line.len());
        let service = super::reference::record(&mut w, line, 0).expect("a JSON line");
        let expected = w.into_bytes();
        let (mut from_line, line_time) = fields(&expected);
        let (mut written, record_time) = fields(&record.bytes);
        assert!(
            line_time.abs_diff(record_time) < 1_000_000_000,
            "times {line_time} and {record_time}"
        );
        from_line.sort_by_key(|(number, _)| *number);
        written.sort_by_key(|(number, _)| *number);
        assert_eq!(written, from_line, "{line}");
        assert_eq!(record.service.as_deref(), service.as_deref());
    }

    /// A record's top-level fields as (number, bytes), without its times;
    /// and its `time_unix_nano`.
    fn fields(mut bytes: &[u8]) -> (Vec<(u32, Vec<u8>)>, u64) {
        fn varint(bytes: &mut &[u8]) -> u64 {
            let mut value = 0u64;
            for shift in (0..64).step_by(7) {
                let byte = bytes[0];
                *bytes = &bytes[1..];
                value |= u64::from(byte & 0x7f) << shift;
                if byte < 0x80 {
                    break;
                }
            }
            value
        }
        let mut out = Vec::new();
        let mut time = 0;
        while !bytes.is_empty() {
            let start = bytes;
            let key = varint(&mut bytes);
            let size = match key & 7 {
                0 => {
                    varint(&mut bytes);
                    0
                }
                1 => 8,
                2 => varint(&mut bytes) as usize,
                5 => 4,
                other => panic!("wire type {other}"),
            };
            bytes = &bytes[size..];
            let whole = &start[..start.len() - bytes.len()];
            let number = (key >> 3) as u32;
            match number {
                field::TIME => {
                    time = u64::from_le_bytes(whole[1..9].try_into().unwrap());
                }
                field::OBSERVED_TIME => {}
                _ => out.push((number, whole.to_vec())),
            }
        }
        (out, time)
    }

    // A reader of JSON lines, the reference records are held to: what a
    // JSON line means as a `LogRecord` (the exporter read lines back this
    // way before records were written at format time).

    /// Writes the `LogRecord` of one JSON line into `w`; the service it
    /// speaks for, if it names one.
    fn record(w: &mut Writer, line: &str, now: u64) -> Result<Option<String>, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(line);
        let seen = serde::de::DeserializeSeed::deserialize(Line { w, now }, &mut deserializer)?;
        deserializer.end()?;
        Ok(seen)
    }

    /// A key, borrowed from the line when it has no escapes.
    struct Key<'de>(Cow<'de, str>);

    impl<'de> serde::Deserialize<'de> for Key<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v.to_string())))
                }
                fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v)))
                }
            }
            deserializer.deserialize_str(Visit)
        }
    }

    /// The top-level object of a line, written as a `LogRecord`.
    struct Line<'w> {
        w: &'w mut Writer,
        now: u64,
    }

    impl<'de> serde::de::DeserializeSeed<'de> for Line<'_> {
        type Value = Option<String>;

        fn deserialize<D: serde::Deserializer<'de>>(
            self,
            d: D,
        ) -> Result<Option<String>, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> serde::de::Visitor<'de> for Line<'_> {
        type Value = Option<String>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON log line")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Option<String>, A::Error> {
            let w = self.w;
            let mut time = None;
            let mut level: Option<Key<'de>> = None;
            let mut service = None;
            let mut trace = None;
            let mut span = None;
            let mut event = false;
            while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                match key.as_ref() {
                    "timestamp" => {
                        let Key(text) = map.next_value::<Key<'de>>()?;
                        time = crate::base::time::rfc3339_unix_nanos(&text);
                    }
                    "level" => level = Some(map.next_value::<Key<'de>>()?),
                    "service" => service = Some(map.next_value::<Key<'de>>()?.0.into_owned()),
                    "trace_id" => trace = hex16(&map.next_value::<Key<'de>>()?.0),
                    "span_id" => span = hex8(&map.next_value::<Key<'de>>()?.0),
                    "message" => {
                        w.message(field::BODY, |any| map.next_value_seed(AnyValue(any)))?;
                    }
                    "fields" => map.next_value_seed(JsonAttributes { w, event: false })?,
                    "event" => {
                        event = true;
                        map.next_value_seed(JsonAttributes { w, event: true })?;
                    }
                    other => {
                        w.message(field::ATTRIBUTES, |kv| {
                            kv.string(1, other);
                            kv.message(2, |any| map.next_value_seed(AnyValue(any)))
                        })?;
                    }
                }
            }
            let level = level.map_or(Cow::Borrowed("INFO"), |Key(level)| level);
            let ids = trace.zip(span).map(|(trace_id, span_id)| TraceIds {
                trace_id,
                span_id,
                sampled: false,
            });
            trailer(w, time.unwrap_or(self.now), self.now, &level, ids, event);
            Ok(service)
        }
    }

    /// An object whose entries become attributes: the handler's `fields`, or
    /// the request `event` (renamed where a semantic convention has a name;
    /// nulls left out).
    struct JsonAttributes<'w> {
        w: &'w mut Writer,
        event: bool,
    }

    impl<'de> serde::de::DeserializeSeed<'de> for JsonAttributes<'_> {
        type Value = ();

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> serde::de::Visitor<'de> for JsonAttributes<'_> {
        type Value = ();

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
                let key = if self.event {
                    EVENT_ATTRIBUTES
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map_or(name.as_ref(), |(_, semconv)| semconv)
                } else {
                    name.as_ref()
                };
                let start = self.w.len();
                let written = self.w.message(field::ATTRIBUTES, |kv| {
                    kv.string(1, key);
                    kv.message(2, |any| map.next_value_seed(AnyValue(any)))
                })?;
                // A null is no attribute.
                if !written {
                    self.w.truncate(start);
                }
            }
            Ok(())
        }
    }

    /// A JSON value written as an OTLP `AnyValue` (objects as maps, arrays
    /// as arrays); `false` for a null (an empty `AnyValue`).
    struct AnyValue<'w>(&'w mut Writer);

    impl<'de> serde::de::DeserializeSeed<'de> for AnyValue<'_> {
        type Value = bool;

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> serde::de::Visitor<'de> for AnyValue<'_> {
        type Value = bool;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON value")
        }

        fn visit_str<E>(self, v: &str) -> Result<bool, E> {
            self.0.string(1, v);
            Ok(true)
        }

        fn visit_bool<E>(self, v: bool) -> Result<bool, E> {
            self.0.uint64(2, u64::from(v));
            Ok(true)
        }

        fn visit_i64<E>(self, v: i64) -> Result<bool, E> {
            self.0.int64(3, v);
            Ok(true)
        }

        fn visit_u64<E>(self, v: u64) -> Result<bool, E> {
            match i64::try_from(v) {
                Ok(v) => self.0.int64(3, v),
                Err(_) => self.0.double(4, v as f64),
            }
            Ok(true)
        }

        fn visit_f64<E>(self, v: f64) -> Result<bool, E> {
            self.0.double(4, v);
            Ok(true)
        }

        fn visit_unit<E>(self) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
            self.0.message(5, |array| {
                loop {
                    let start = array.len();
                    let more =
                        array.message(1, |element| seq.next_element_seed(AnyValue(element)))?;
                    if more.is_none() {
                        // The element written for the end of the sequence.
                        array.truncate(start);
                        return Ok(());
                    }
                }
            })?;
            Ok(true)
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            self.0.message(6, |list| {
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    list.message(1, |kv| {
                        kv.string(1, &key);
                        kv.message(2, |any| map.next_value_seed(AnyValue(any)))
                    })?;
                }
                Ok(())
            })?;
            Ok(true)
        }
    }

    /// An id of the line: lines carry lowercase hex, uppercase is read too.
    fn hex<const N: usize>(text: &str) -> Option<[u8; N]> {
        let mut digits = [0u8; 32];
        let digits = digits.get_mut(..text.len())?;
        digits.copy_from_slice(text.as_bytes());
        digits.make_ascii_lowercase();
        crate::base::trace_context::decode::<N>(digits)
    }

    pub(super) fn hex16(text: &str) -> Option<[u8; 16]> {
        hex::<16>(text)
    }

    pub(super) fn hex8(text: &str) -> Option<[u8; 8]> {
        hex::<8>(text)
    }
}

#[cfg(test)]
mod tests {
    use super::reference::{assert_same, hex8, hex16};
    use super::*;

    /// Lines with every kind of value, remapped, inside a request, and for
    /// another service; the records written for them by hand.
    #[test]
    fn records_hold_what_their_lines_hold() {
        let trace = TraceIds {
            trace_id: [0x0a; 16],
            span_id: [0xb7; 8],
            sampled: true,
        };
        let request = LineRequest {
            request_id: "req-1",
            trace,
        };
        let mut record = Record::begin(Level::WARN, Level::ERROR, "shop::db", Some(request), 0);
        record.set_service("billing");
        record.body("slow \"query\"\n");
        let mut attributes = record.attributes();
        attributes.string("password", "[REDACTED]");
        attributes.int("rows", -3);
        attributes.int("big", u64::MAX);
        attributes.bool("cached", true);
        attributes.double("ratio", 0.25);
        attributes.double("nan", f64::NAN);
        let line = format!(
            "{{\"timestamp\":\"{}\",\"level\":\"WARN\",\"original_level\":\"ERROR\",\"target\":\"shop::db\",\"service\":\"billing\",\"request_id\":\"req-1\",\"trace_id\":\"{}\",\"span_id\":\"{}\",\"message\":\"slow \\\"query\\\"\\n\",\"fields\":{{\"password\":\"[REDACTED]\",\"rows\":-3,\"big\":18446744073709551615,\"cached\":true,\"ratio\":0.25,\"nan\":null}}}}\n",
            crate::base::time::rfc3339(std::time::SystemTime::now()),
            trace.trace_id_hex(),
            trace.span_id_hex(),
        );
        assert_same(&line, record.finish());

        // The request event: renamed, nested, no ids outside a request.
        let mut record = Record::begin(Level::INFO, Level::INFO, "observe::request", None, 0);
        record.body("request finished");
        let mut event = record.event();
        event.string("http.request.method", "GET");
        event.int("http.response.status_code", 200u16);
        event.map("dependencies", |d| {
            d.int("count", 2u32);
            d.maps("calls", ["db", "cache"], |call, name| {
                call.string("dependency", name)
            });
        });
        event.map("fields", |_| {});
        let line = format!(
            "{{\"timestamp\":\"{}\",\"level\":\"INFO\",\"target\":\"observe::request\",\"service\":\"svc\",\"message\":\"request finished\",\"event\":{{\"method\":\"GET\",\"request_body_bytes\":null,\"status\":200,\"dependencies\":{{\"count\":2,\"calls\":[{{\"dependency\":\"db\"}},{{\"dependency\":\"cache\"}}]}},\"fields\":{{}}}}}}\n",
            crate::base::time::rfc3339(std::time::SystemTime::now()),
        );
        let exported = record.finish();
        // The line names its service; the installing one is `None`.
        let with_service = Exported {
            service: Some("svc".into()),
            ..exported
        };
        assert_same(&line, with_service);
    }

    /// Records of two services go under two resources, each with its
    /// records in the order they were written.
    #[test]
    fn records_are_grouped_by_service() {
        let installing = crate::Observe::builder()
            .service_name("shop")
            .build()
            .unwrap()
            .service()
            .clone();
        let records: Vec<Exported> = ["body-one", "body-two", "body-three"]
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let mut record = Record::begin(Level::INFO, Level::INFO, "t", None, 0);
                if i == 1 {
                    record.set_service("billing");
                }
                record.body(body);
                record.finish()
            })
            .collect();
        let body = encode(&records, &installing);
        // The length-delimited fields of a message, as (number, payload).
        fn messages(mut bytes: &[u8]) -> Vec<(u32, &[u8])> {
            let mut out = Vec::new();
            while !bytes.is_empty() {
                let key = bytes[0];
                let (mut len, mut at) = (0usize, 1);
                loop {
                    let byte = bytes[at];
                    len |= usize::from(byte & 0x7f) << (7 * (at - 1));
                    at += 1;
                    if byte < 0x80 {
                        break;
                    }
                }
                assert_eq!(key & 7, 2, "length-delimited");
                out.push((u32::from(key >> 3), &bytes[at..at + len]));
                bytes = &bytes[at + len..];
            }
            out
        }
        let resources = messages(&body);
        assert_eq!(resources.len(), 2);
        let mut seen = Vec::new();
        for (number, resource_logs) in resources {
            assert_eq!(number, field::RESOURCE_LOGS);
            let parts = messages(resource_logs);
            assert_eq!(parts[0].0, 1, "the resource");
            let service = String::from_utf8_lossy(parts[0].1).into_owned();
            assert_eq!(parts[1].0, field::SCOPE_LOGS);
            let scope_logs = messages(parts[1].1);
            assert_eq!(scope_logs[0].0, 1, "the scope");
            for (number, record) in &scope_logs[1..] {
                assert_eq!(*number, field::LOG_RECORDS);
                let record = String::from_utf8_lossy(record);
                let body = ["body-one", "body-two", "body-three"]
                    .into_iter()
                    .find(|b| record.contains(b))
                    .unwrap();
                let service = ["shop", "billing"]
                    .into_iter()
                    .find(|s| service.contains(s))
                    .unwrap();
                seen.push((service, body));
            }
        }
        assert_eq!(
            seen,
            [
                ("shop", "body-one"),
                ("shop", "body-three"),
                ("billing", "body-two")
            ]
        );
    }

    #[test]
    fn line_ids_are_read_in_either_case_and_only_whole() {
        let lower = hex8("00f067aa0ba902b7");
        assert_eq!(
            lower,
            Some([0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7])
        );
        assert_eq!(hex8("00F067AA0BA902B7"), lower);
        assert_eq!(hex8("00f067aa0ba902b"), None);
        assert_eq!(hex8("00f067aa0ba902bz"), None);
        assert_eq!(hex16(&"a".repeat(40)), None);
        assert_eq!(hex16(&"0a".repeat(16)), Some([0x0a; 16]));
    }
}
