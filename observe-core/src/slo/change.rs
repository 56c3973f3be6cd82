//! Judging a flag flip or a config change (feature `judge`): the window
//! after the change against the same-length window before it, on every
//! instance of the job, and finding a StateSet's last change in
//! Prometheus itself.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Slos;
use super::judge::{Judge, Judgement};
use super::prometheus::{PrometheusApi, QueryError};
use super::query::{Side, duration_seconds};

/// The judgement of a change, with the windows compared.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeJudgement {
    /// "baseline" is the window before the change, "canary" the one after
    /// (and the reasons say so).
    pub judgement: Judgement,
    /// When the change happened (Unix seconds).
    pub at: f64,
    /// The length of both windows in seconds: the window asked for, or
    /// less when the change is more recent than that.
    pub seconds: f64,
}

/// Unix seconds now.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl PrometheusApi {
    /// Judges the change at `at` (Unix seconds): the `window` after it
    /// (the "canary") against the same length before it (the
    /// "baseline"), on every instance of the job. A change more recent
    /// than `window` compares the shorter time since, so too few requests
    /// say wait.
    pub fn judge_change(
        &self,
        judge: &Judge,
        slos: &Slos,
        at: f64,
        window: &str,
    ) -> Result<ChangeJudgement, QueryError> {
        let window_seconds = duration_seconds(window)
            .filter(|s| *s >= 1.0)
            .ok_or_else(|| QueryError::Window(window.to_string()))?;
        judge.check()?;
        let since = now() - at;
        if since < 1.0 {
            return Err(QueryError::NotYet(format_rfc3339(at)));
        }
        let seconds = window_seconds.min(since).floor();
        let range = format!("{seconds}s");
        let mut counted = Vec::with_capacity(slos.slos().len());
        for slo in slos.slos() {
            counted.push((
                self.counts(slos, slo, Side::ALL, &range, Some(at))?,
                self.counts(slos, slo, Side::ALL, &range, Some(at + seconds))?,
            ));
        }
        let mut counted = counted.into_iter();
        let judge = judge.clone().side_names("before", "after");
        let judgement = judge.judge(slos, |_| counted.next().unwrap_or((None, None)))?;
        Ok(ChangeJudgement {
            judgement,
            at,
            seconds,
        })
    }

    /// When the StateSet `metric` of the job last changed state on any
    /// instance within `lookback` (a Prometheus duration), in Unix
    /// seconds, to the scrape.
    pub fn last_change(
        &self,
        slos: &Slos,
        metric: &str,
        lookback: &str,
    ) -> Result<f64, QueryError> {
        let lookback_seconds =
            duration_seconds(lookback).ok_or_else(|| QueryError::Window(lookback.to_string()))?;
        let valid = metric
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && metric
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        let no_change = |series| QueryError::NoChange {
            metric: metric.to_string(),
            job: slos.service().to_string(),
            lookback: lookback.to_string(),
            series,
        };
        if !valid {
            return Err(no_change(0));
        }
        let end = now();
        // A point a second resolves a scrape; Prometheus allows 11,000
        // points a series.
        let step = (lookback_seconds / 10_000.0).max(1.0);
        let promql = format!("{metric}{{job=\"{}\"}}", slos.service());
        let series = self.query_range(&promql, end - lookback_seconds, end, step)?;
        let mut last: Option<f64> = None;
        for (_, points) in &series {
            for pair in points.windows(2) {
                if pair[0].1 != pair[1].1 {
                    last = Some(last.map_or(pair[1].0, |l: f64| l.max(pair[1].0)));
                }
            }
        }
        last.ok_or_else(|| no_change(series.len()))
    }
}

/// Unix seconds from an RFC 3339 time: `2026-12-01T09:30:00Z`,
/// `2026-12-01T10:30:00.5+01:00`; `None` if it is not one.
pub fn parse_rfc3339(text: &str) -> Option<f64> {
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
    let mut rest = &text[19..];
    let mut fraction = 0.0;
    if let Some(after) = rest.strip_prefix('.') {
        let count = after.bytes().take_while(u8::is_ascii_digit).count();
        if count == 0 {
            return None;
        }
        fraction = format!("0.{}", &after[..count]).parse().ok()?;
        rest = &after[count..];
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
            let hours = digits_of(&rest[1..3])?;
            let minutes = digits_of(&rest[4..6])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset;
    Some(seconds as f64 + fraction)
}

/// A run of ASCII digits as a number (no sign, no spaces).
fn digits_of(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
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
    // Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }
}
