//! What an error report may say about its request: path, query and
//! headers, copied raw when the request starts (only while error tracking
//! is on), scrubbed only when a report is built.

use std::borrow::Cow;

/// The most request headers kept for an error event.
pub const MAX_HEADERS: usize = 32;

/// The longest path and query kept, in bytes.
const MAX_TARGET: usize = 2048;

/// The longest header value kept, in bytes.
const MAX_HEADER_VALUE: usize = 512;

/// The copy, as cheaply as possible: one bounded buffer of the raw bytes,
/// `target \0 name \0 value \0 ...` (none of them can hold a NUL), with no
/// UTF-8 check. Nothing is classified here: every request pays for this,
/// only failing ones are read back (lossily) and scrubbed.
#[derive(Debug, Default)]
pub(crate) struct RequestDetails {
    buffer: Vec<u8>,
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `bytes` cut to at most `max`, not inside a UTF-8 sequence (a value that
/// is not UTF-8 at all is read back lossily anyway).
fn cut_bytes(bytes: &[u8], max: usize) -> &[u8] {
    if bytes.len() <= max {
        return bytes;
    }
    let mut end = max;
    while end > 0 && bytes[end] & 0xc0 == 0x80 {
        end -= 1;
    }
    &bytes[..end]
}

impl RequestDetails {
    pub(crate) fn new<'a>(
        path: &str,
        query: Option<&str>,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Self {
        let mut buffer = Vec::with_capacity(256);
        buffer.extend_from_slice(cut(path, MAX_TARGET).as_bytes());
        if let Some(query) = query {
            buffer.push(b'?');
            let room = MAX_TARGET.saturating_sub(buffer.len());
            buffer.extend_from_slice(cut(query, room).as_bytes());
        }
        for (name, value) in headers.into_iter().take(MAX_HEADERS) {
            buffer.push(0);
            buffer.extend_from_slice(name.as_bytes());
            buffer.push(0);
            buffer.extend_from_slice(cut_bytes(value, MAX_HEADER_VALUE));
        }
        Self { buffer }
    }

    fn parts(&self) -> impl Iterator<Item = Cow<'_, str>> {
        self.buffer.split(|b| *b == 0).map(String::from_utf8_lossy)
    }

    /// The path and query as received (bounded).
    pub(crate) fn target(&self) -> Cow<'_, str> {
        self.parts().next().unwrap_or(Cow::Borrowed("/"))
    }

    /// The headers, as received (bounded), in order; a value that is not
    /// UTF-8 is read lossily.
    pub(crate) fn headers(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        let mut parts = self.parts().skip(1);
        std::iter::from_fn(move || {
            let name = parts.next()?;
            Some((name, parts.next().unwrap_or_default()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_read_back_bounded_and_lossily() {
        let long = "é".repeat(MAX_HEADER_VALUE);
        let headers: Vec<(&str, &[u8])> = vec![
            ("host", b"shop.example"),
            ("x-raw", b"caf\xe9"),
            ("x-long", long.as_bytes()),
        ];
        let details = RequestDetails::new("/users/7", Some("q=1"), headers);
        assert_eq!(details.target(), "/users/7?q=1");
        let read: Vec<(String, String)> = details
            .headers()
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(read[0], ("host".into(), "shop.example".into()));
        // Not UTF-8: kept raw, read back with a replacement character.
        assert_eq!(read[1], ("x-raw".into(), "caf\u{fffd}".into()));
        // Cut to the bound, between characters.
        assert_eq!(read[2].1, "é".repeat(MAX_HEADER_VALUE / 2));
        let many = (0..100).map(|_| ("a", &b"b"[..]));
        assert_eq!(
            RequestDetails::new("/", None, many).headers().count(),
            MAX_HEADERS
        );
    }
}
