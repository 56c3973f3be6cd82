//! The one request protocol: what observe reads of a request, whatever the
//! framework. A framework crate implements [`RequestHead`] for its request
//! type; every rule about what the values mean lives here, once.

use std::borrow::Cow;

/// A header observe reads (and, for the request id, writes back).
/// Exhaustive on purpose: an adapter names each one (a new variant is a
/// breaking change, made with a new minor version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Header {
    /// The request id header: `x-request-id` unless
    /// [`ObserveBuilder::request_id_header`](crate::ObserveBuilder::request_id_header)
    /// names another ([`Observe::request_id_header`](crate::Observe::request_id_header)).
    RequestId,
    /// W3C `traceparent`.
    Traceparent,
    /// W3C `tracestate`.
    Tracestate,
    /// `content-length`.
    ContentLength,
    /// `transfer-encoding`.
    TransferEncoding,
    /// `content-type`: tells a gRPC call (`application/grpc...`) apart.
    ContentType,
}

impl Header {
    /// The header's name for the fixed ones; `None` for
    /// [`Header::RequestId`], whose name is configured.
    pub fn fixed_name(self) -> Option<&'static str> {
        match self {
            Header::RequestId => None,
            Header::Traceparent => Some("traceparent"),
            Header::Tracestate => Some("tracestate"),
            Header::ContentLength => Some("content-length"),
            Header::TransferEncoding => Some("transfer-encoding"),
            Header::ContentType => Some("content-type"),
        }
    }
}

/// A request as observe sees it. Implemented by each framework crate for
/// its own request type (a thin wrapper that also holds the parsed header
/// names); observe reads it once, when the request starts.
pub trait RequestHead {
    /// The method as sent (`GET`).
    fn method(&self) -> &str;
    /// The path, without the query.
    fn path(&self) -> &str;
    /// The query string, without `?`, if any.
    fn query(&self) -> Option<&str>;
    /// Every value of `header`, in the order received.
    fn values(&self, header: Header) -> impl Iterator<Item = &[u8]>;
    /// Every header, for an error report (only read while error tracking
    /// is on).
    fn headers(&self) -> impl Iterator<Item = (&str, &[u8])>;
    /// The body's exact size when the server knows it from the framing;
    /// `None` to read it from the headers.
    fn exact_body_size(&self) -> Option<u64> {
        None
    }
}

/// The only value of a header that must occur once (`traceparent`): two
/// or more are as good as none.
pub(crate) fn only<'a>(mut values: impl Iterator<Item = &'a [u8]>) -> Option<&'a [u8]> {
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

/// A list header's lines joined in order as one list (`tracestate`), empty
/// lines skipped; borrowed when there is one line.
pub(crate) fn joined<'a>(values: impl Iterator<Item = &'a [u8]>) -> Option<Cow<'a, [u8]>> {
    let mut joined: Option<Cow<'a, [u8]>> = None;
    for value in values.filter(|v| !v.trim_ascii().is_empty()) {
        joined = Some(match joined {
            None => Cow::Borrowed(value),
            Some(so_far) => {
                let mut list = so_far.into_owned();
                list.push(b',');
                list.extend_from_slice(value);
                Cow::Owned(list)
            }
        });
    }
    joined
}

/// The request body size from the headers, by the rules of HTTP/1.1
/// (RFC 9112 section 6.3): `Content-Length` values that agree give the
/// size; a request with neither `Content-Length` nor `Transfer-Encoding`
/// has no body (0); a chunked, conflicting or malformed one has an unknown
/// size (`None`), left unrecorded rather than guessed.
pub(crate) fn body_size(head: &impl RequestHead) -> Option<u64> {
    if let Some(exact) = head.exact_body_size() {
        return Some(exact);
    }
    let mut lengths = head.values(Header::ContentLength);
    match lengths.next() {
        Some(first) => {
            let size = request_body_size(Some(first), false)?;
            lengths
                .all(|other| request_body_size(Some(other), false) == Some(size))
                .then_some(size)
        }
        None => request_body_size(None, head.values(Header::TransferEncoding).next().is_some()),
    }
}

/// The request body size for one `Content-Length` value, or for none
/// (with or without `Transfer-Encoding`): see [`RequestHead`] for the rule
/// observe applies to a whole request.
///
/// ```
/// use observe_core::integration::request_body_size;
/// assert_eq!(request_body_size(Some(b"42"), false), Some(42));
/// assert_eq!(request_body_size(None, false), Some(0));
/// assert_eq!(request_body_size(None, true), None);
/// assert_eq!(request_body_size(Some(b"-1"), false), None);
/// ```
pub fn request_body_size(content_length: Option<&[u8]>, transfer_encoding: bool) -> Option<u64> {
    match content_length {
        Some(value) => std::str::from_utf8(value).ok()?.trim().parse().ok(),
        None if transfer_encoding => None,
        None => Some(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_headers_join_and_single_headers_stay_single() {
        let lines: [&[u8]; 3] = [b"a=1", b"", b"b=2"];
        assert_eq!(joined(lines.into_iter()).as_deref(), Some(&b"a=1,b=2"[..]));
        let one: [&[u8]; 1] = [b"a=1"];
        assert!(matches!(joined(one.into_iter()), Some(Cow::Borrowed(_))));
        assert_eq!(joined(std::iter::empty()), None);
        assert_eq!(only(one.into_iter()), Some(&b"a=1"[..]));
        let two: [&[u8]; 2] = [b"x", b"y"];
        assert_eq!(only(two.into_iter()), None);
    }
}
