//! What an error report may say about its request: path, query and
//! headers, copied raw when the request starts (only while error tracking
//! is on), scrubbed only when a report is built.

/// The most request headers kept for an error event.
pub const MAX_HEADERS: usize = 32;

/// The longest path and query kept, in bytes.
const MAX_TARGET: usize = 2048;

/// The longest header value kept, in bytes.
const MAX_HEADER_VALUE: usize = 512;

/// The copy, as cheaply as possible: one bounded buffer,
/// `target \0 name \0 value \0 ...` (none of them can hold a NUL). Nothing
/// is classified here: every request pays for this, only failing ones are
/// scrubbed.
#[derive(Debug, Default)]
pub(crate) struct RequestDetails {
    buffer: String,
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

impl RequestDetails {
    pub(crate) fn new<'a>(
        path: &str,
        query: Option<&str>,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Self {
        let mut buffer = String::with_capacity(256);
        buffer.push_str(cut(path, MAX_TARGET));
        if let Some(query) = query {
            buffer.push('?');
            buffer.push_str(cut(query, MAX_TARGET.saturating_sub(buffer.len())));
        }
        for (name, value) in headers.into_iter().take(MAX_HEADERS) {
            buffer.push('\0');
            buffer.push_str(name);
            buffer.push('\0');
            match std::str::from_utf8(value) {
                Ok(text) => buffer.push_str(cut(text, MAX_HEADER_VALUE)),
                Err(_) => buffer.push_str(cut(&String::from_utf8_lossy(value), MAX_HEADER_VALUE)),
            }
        }
        Self { buffer }
    }

    /// The path and query as received (bounded).
    pub(crate) fn target(&self) -> &str {
        self.buffer.split('\0').next().unwrap_or("/")
    }

    /// The headers, as received (bounded), in order.
    pub(crate) fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut parts = self.buffer.split('\0').skip(1);
        std::iter::from_fn(move || Some((parts.next()?, parts.next().unwrap_or(""))))
    }
}
