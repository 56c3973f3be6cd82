//! The request as observe-core reads it: a thin view of `http::Request`.

use http::{HeaderName, HeaderValue, Request, header};
use http_body::Body;
use observe_core::Observe;
use observe_core::integration::{Header, RequestHead};

/// The header names observe reads, parsed once per layer: a lookup by a
/// parsed name only hashes it.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub(crate) request_id: HeaderName,
    traceparent: HeaderName,
    tracestate: HeaderName,
    content_length: HeaderName,
    transfer_encoding: HeaderName,
    content_type: HeaderName,
}

impl Names {
    pub(crate) fn new(observe: &Observe) -> Self {
        let request_id = match observe.request_id_header() {
            // Static: cloning it for each response's echo costs no atomic.
            observe_core::DEFAULT_REQUEST_ID_HEADER => {
                HeaderName::from_static(observe_core::DEFAULT_REQUEST_ID_HEADER)
            }
            other => HeaderName::from_bytes(other.as_bytes())
                .expect("ObserveBuilder accepts only lowercase header names"),
        };
        Self {
            request_id,
            traceparent: HeaderName::from_static("traceparent"),
            tracestate: HeaderName::from_static("tracestate"),
            content_length: header::CONTENT_LENGTH,
            transfer_encoding: header::TRANSFER_ENCODING,
            content_type: header::CONTENT_TYPE,
        }
    }

    fn name(&self, header: Header) -> &HeaderName {
        match header {
            Header::RequestId => &self.request_id,
            Header::Traceparent => &self.traceparent,
            Header::Tracestate => &self.tracestate,
            Header::ContentLength => &self.content_length,
            Header::TransferEncoding => &self.transfer_encoding,
            Header::ContentType => &self.content_type,
        }
    }
}

/// Up to this many header values, a lookup scans them rather than hashing
/// the name: an API client's request carries a handful (`host`, `accept`,
/// `user-agent`, a `traceparent`); a browser's, more.
const SCAN_AT_MOST: usize = 6;

/// The values of one header, by either way of finding them.
enum Values<'a> {
    Scan(http::header::Iter<'a, HeaderValue>, &'a HeaderName),
    LookedUp(http::header::ValueIter<'a, HeaderValue>),
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Values::Scan(all, name) => all.find(|(n, _)| *n == *name).map(|(_, v)| v.as_bytes()),
            Values::LookedUp(values) => values.next().map(HeaderValue::as_bytes),
        }
    }
}

/// `request` with the names to read it by.
pub(crate) struct Head<'a, B> {
    pub(crate) request: &'a Request<B>,
    pub(crate) names: &'a Names,
}

impl<B: Body> RequestHead for Head<'_, B> {
    fn method(&self) -> &str {
        self.request.method().as_str()
    }

    fn path(&self) -> &str {
        self.request.uri().path()
    }

    fn query(&self) -> Option<&str> {
        self.request.uri().query()
    }

    fn values(&self, header: Header) -> impl Iterator<Item = &[u8]> {
        let headers = self.request.headers();
        let name = self.names.name(header);
        // A short map is scanned: comparing a few names (a standard one
        // differs at its tag) costs less than hashing the name to look it
        // up. The values come in the same order either way.
        if headers.len() <= SCAN_AT_MOST {
            Values::Scan(headers.iter(), name)
        } else {
            Values::LookedUp(headers.get_all(name).iter())
        }
    }

    fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
    }

    /// hyper knows a body's exact size from its framing.
    fn exact_body_size(&self) -> Option<u64> {
        self.request.body().size_hint().exact()
    }
}
