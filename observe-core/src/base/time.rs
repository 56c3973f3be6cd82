//! Time: Unix seconds, and RFC 3339 UTC timestamps without a date-time
//! dependency.

use std::time::{SystemTime, UNIX_EPOCH};

use super::ascii::Buffer;

/// Now, in seconds since the Unix epoch (0 for a clock before it).
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `2026-11-25T19:42:34.123456Z` for `time`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let mut out = String::with_capacity(27);
    push_rfc3339(&mut out, time);
    out
}

/// Appends `2026-11-25T19:42:34.123456Z` for `time` (a log line's time:
/// no allocation).
pub(crate) fn push_rfc3339(out: &mut String, time: SystemTime) {
    thread_local! {
        /// The last second this thread wrote and its text: lines come many
        /// to a second, and only the micros differ between them.
        static SECOND: std::cell::Cell<(u64, Buffer<32>)> =
            const { std::cell::Cell::new((u64::MAX, Buffer::of([b'0'; 32]))) };
    }
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (cached, mut text) = SECOND.get();
    if cached != secs {
        text = date_time(secs);
        SECOND.set((secs, text));
    }
    let mut micros = since.subsec_micros();
    for slot in text.bytes_mut()[20..26].iter_mut().rev() {
        *slot = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    // Digits and separators only: always UTF-8.
    out.push_str(&text.as_str(0..)[..RFC3339_LEN]);
}

/// The length of `2026-11-25T19:42:34.123456Z`.
const RFC3339_LEN: usize = 27;

/// `2026-11-25T19:42:34.000000Z` for Unix second `secs` (the rest of the
/// buffer zero digits).
fn date_time(secs: u64) -> Buffer<32> {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    // Digits by hand: `format!` costs more than the rest of a log line.
    let mut buf = Buffer::of(*b"0000-00-00T00:00:00.000000Z00000");
    let mut put = |at: usize, width: usize, mut value: u64| {
        for slot in buf.bytes_mut()[at..at + width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year.clamp(0, 9999) as u64);
    put(5, 2, u64::from(month));
    put(8, 2, u64::from(day));
    put(11, 2, rem / 3600);
    put(14, 2, rem % 3600 / 60);
    put(17, 2, rem % 60);
    buf
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// civil_from_days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Unix seconds from an RFC 3339 time: `2026-12-01T09:30:00Z`,
/// `2026-12-01T10:30:00.5+01:00`; `None` if it is not one.
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    let (seconds, fraction) = split_rfc3339(text)?;
    let fraction = match fraction {
        "" => 0.0,
        digits => format!("0.{digits}").parse().ok()?,
    };
    Some(seconds as f64 + fraction)
}

/// An RFC 3339 time as whole Unix seconds and the digits of its fraction
/// (empty without one).
fn split_rfc3339(text: &str) -> Option<(i64, &str)> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| digits_of(text.get(range)?);
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = text.get(19..)?;
    let mut fraction = "";
    if let Some(after) = rest.strip_prefix('.') {
        let count = after.bytes().take_while(u8::is_ascii_digit).count();
        if count == 0 {
            return None;
        }
        (fraction, rest) = after.split_at(count);
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let hours = digits_of(rest.get(1..3)?)?;
            let minutes = digits_of(rest.get(4..6)?)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some((
        days * 86400 + hour * 3600 + minute * 60 + second - offset,
        fraction,
    ))
}

/// A short run of ASCII digits as a number (no sign, no spaces).
fn digits_of(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        text.bytes()
            .fold(0, |n, digit| n * 10 + i64::from(digit - b'0')),
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `2026-12-01T09:30:00Z` (UTC, whole seconds) for Unix seconds.
pub fn format_rfc3339(unix: f64) -> String {
    let total = unix.floor() as i64;
    let (days, second_of_day) = (total.div_euclid(86400), total.rem_euclid(86400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Unix nanoseconds from an RFC 3339 time, exactly (digits past the ninth
/// are dropped); `None` if it is not one or is before 1970. No float and
/// no allocation: the reference reader of JSON lines in the OTLP log
/// exporter's tests reads one per line.
#[cfg(test)]
pub(crate) fn rfc3339_unix_nanos(text: &str) -> Option<u64> {
    let (seconds, fraction) = split_rfc3339(text)?;
    let mut nanos = 0u64;
    for position in 0..9 {
        let digit = fraction.as_bytes().get(position).map_or(0, |d| d - b'0');
        nanos = nanos * 10 + u64::from(digit);
    }
    u64::try_from(seconds)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let t = UNIX_EPOCH + Duration::from_micros(1_764_099_754_123_456);
        assert_eq!(rfc3339(t), "2025-11-25T19:42:34.123456Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&rfc3339(leap)[..10], "2000-02-29");
    }

    #[test]
    fn lines_in_one_second_and_the_next_each_get_their_own_time() {
        // This thread remembers the last second it wrote: the micros, a
        // new second and a return to an earlier one are all written anew.
        let at =
            |secs: u64, micros: u64| UNIX_EPOCH + Duration::from_micros(secs * 1_000_000 + micros);
        let cases = [
            (1_764_099_754, 1, "2025-11-25T19:42:34.000001Z"),
            (1_764_099_754, 999_999, "2025-11-25T19:42:34.999999Z"),
            (1_764_099_755, 0, "2025-11-25T19:42:35.000000Z"),
            (1_764_099_754, 123_456, "2025-11-25T19:42:34.123456Z"),
            (0, 0, "1970-01-01T00:00:00.000000Z"),
        ];
        for (secs, micros, text) in cases {
            let mut out = String::from("x");
            push_rfc3339(&mut out, at(secs, micros));
            assert_eq!(out, format!("x{text}"));
        }
    }

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339("2026-12-01T09:30:00Z"), Some(1_796_117_400.0));
        assert_eq!(
            parse_rfc3339("2026-12-01T10:30:00.25+01:00"),
            Some(1_796_117_400.25)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T23:59:59-00:30"),
            Some(1_709_252_999.0)
        );
        assert_eq!(format_rfc3339(1_796_117_400.9), "2026-12-01T09:30:00Z");
        assert_eq!(format_rfc3339(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400.0), "2000-02-29T00:00:00Z");
        for bad in [
            "2026-12-01",
            "2026-12-01T09:30:00",
            "2026-13-01T09:30:00Z",
            "2025-02-29T09:30:00Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01T09:30:00.Z",
            "2026-12-01T09:30:00+0100",
            "yesterday",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
            assert_eq!(rfc3339_unix_nanos(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_nanoseconds_are_exact() {
        let nanos = rfc3339_unix_nanos;
        assert_eq!(nanos("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            nanos("2026-12-01T10:30:00.25+01:00"),
            Some(1_796_117_400_250_000_000)
        );
        // Every digit of a line's microseconds, which an f64 of nanoseconds
        // since 1970 cannot hold.
        assert_eq!(
            nanos("2025-11-25T19:42:34.123456Z"),
            Some(1_764_099_754_123_456_000)
        );
        assert_eq!(
            nanos("2025-11-25T19:42:34.1234567891Z"),
            Some(1_764_099_754_123_456_789)
        );
        assert_eq!(nanos("1969-12-31T23:59:59Z"), None);
    }
}
