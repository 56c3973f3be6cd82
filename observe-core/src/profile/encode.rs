//! `profile.proto`, written field by field: a string table, functions
//! keyed by name and file, one location per distinct frame (its lines, the
//! innermost inlined call first, as the format wants), and one sample per
//! distinct stack with two values, samples and CPU nanoseconds.

use std::collections::HashMap;
use std::time::UNIX_EPOCH;

use super::{CpuProfile, Frame};
use crate::encoding::protobuf::wire::Writer;

// Profile's fields.
const SAMPLE_TYPE: u32 = 1;
const SAMPLE: u32 = 2;
const LOCATION: u32 = 4;
const FUNCTION: u32 = 5;
const STRING_TABLE: u32 = 6;
const TIME_NANOS: u32 = 9;
const DURATION_NANOS: u32 = 10;
const PERIOD_TYPE: u32 = 11;
const PERIOD: u32 = 12;
const COMMENT: u32 = 13;
const DEFAULT_SAMPLE_TYPE: u32 = 14;

/// Strings by their index in the table; index 0 is the empty string.
#[derive(Default)]
struct Strings<'a> {
    table: Vec<&'a str>,
    index: HashMap<&'a str, i64>,
}

impl<'a> Strings<'a> {
    fn new() -> Self {
        let mut strings = Self::default();
        strings.get("");
        strings
    }

    fn get(&mut self, text: &'a str) -> i64 {
        if let Some(index) = self.index.get(text) {
            return *index;
        }
        let index = self.table.len() as i64;
        self.table.push(text);
        self.index.insert(text, index);
        index
    }
}

/// The profile, not yet compressed.
pub(super) fn profile(profile: &CpuProfile) -> Vec<u8> {
    let mut strings = Strings::new();
    // (name, system name, file) -> function id
    let mut functions: HashMap<(&str, &str, &str), u64> = HashMap::new();
    let mut function_rows: Vec<(u64, i64, i64, i64)> = Vec::new();
    // frame -> location id
    let mut locations: HashMap<&Frame, u64> = HashMap::new();
    let mut location_rows: Vec<(u64, Vec<(u64, i64)>)> = Vec::new();
    let period = 1_000_000_000 / i64::from(profile.frequency.max(1));
    let thread_key = strings.get("thread");

    let mut w = Writer::with_capacity(64 * 1024);
    for stack in &profile.stacks {
        let mut ids = Vec::with_capacity(stack.frames.len());
        for frame in &stack.frames {
            let next = locations.len() as u64 + 1;
            let id = *locations.entry(frame).or_insert(next);
            if id == next {
                let lines = frame
                    .iter()
                    .map(|line| {
                        let key = (
                            line.function.as_str(),
                            line.system_name.as_str(),
                            line.file.as_str(),
                        );
                        let next = functions.len() as u64 + 1;
                        let function = *functions.entry(key).or_insert(next);
                        if function == next {
                            function_rows.push((
                                function,
                                strings.get(key.0),
                                strings.get(key.1),
                                strings.get(key.2),
                            ));
                        }
                        (function, i64::from(line.line))
                    })
                    .collect();
                location_rows.push((id, lines));
            }
            ids.push(id);
        }
        let count = stack.count as i64;
        let thread = strings.get(&stack.thread);
        w.message(SAMPLE, |s| {
            s.packed_uint64(1, &ids);
            s.packed_int64(2, &[count, count * period]);
            s.message(3, |label| {
                label.int64(1, thread_key);
                label.int64(2, thread);
            });
        });
    }
    for (id, lines) in &location_rows {
        w.message(LOCATION, |l| {
            l.uint64(1, *id);
            for (function, line) in lines {
                l.message(4, |row| {
                    row.uint64(1, *function);
                    row.int64(2, *line);
                });
            }
        });
    }
    for (id, name, system_name, file) in &function_rows {
        w.message(FUNCTION, |f| {
            f.uint64(1, *id);
            f.int64(2, *name);
            f.int64(3, *system_name);
            f.int64(4, *file);
        });
    }
    let samples = (strings.get("samples"), strings.get("count"));
    let cpu = (strings.get("cpu"), strings.get("nanoseconds"));
    for (kind, unit) in [samples, cpu] {
        w.message(SAMPLE_TYPE, |t| {
            t.int64(1, kind);
            t.int64(2, unit);
        });
    }
    let start = profile
        .start
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    w.int64(TIME_NANOS, start);
    w.int64(DURATION_NANOS, profile.duration.as_nanos() as i64);
    w.message(PERIOD_TYPE, |t| {
        t.int64(1, cpu.0);
        t.int64(2, cpu.1);
    });
    w.int64(PERIOD, period);
    let note = profile.coverage_note();
    if let Some(note) = &note {
        let index = strings.get(note);
        w.int64(COMMENT, index);
    }
    w.int64(DEFAULT_SAMPLE_TYPE, cpu.0);
    for text in &strings.table {
        w.string(STRING_TABLE, text);
    }
    w.into_bytes()
}
