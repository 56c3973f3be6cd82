//! The request as observe-core reads it: a thin view of actix-web's
//! `ServiceRequest`.

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderName};
use observe_core::Observe;
use observe_core::integration::{Header, RequestHead};

/// The header names observe reads, parsed once per worker: a lookup by a
/// parsed name only hashes it.
#[derive(Debug)]
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
        Self {
            request_id: HeaderName::from_bytes(observe.request_id_header().as_bytes())
                .expect("ObserveBuilder accepts only lowercase header names"),
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

/// `request` with the names to read it by.
pub(crate) struct Head<'a> {
    pub(crate) request: &'a ServiceRequest,
    pub(crate) names: &'a Names,
}

impl RequestHead for Head<'_> {
    fn method(&self) -> &str {
        self.request.method().as_str()
    }

    fn path(&self) -> &str {
        self.request.path()
    }

    fn query(&self) -> Option<&str> {
        self.request.uri().query()
    }

    fn values(&self, header: Header) -> impl Iterator<Item = &[u8]> {
        self.request
            .headers()
            .get_all(self.names.name(header))
            .map(|v| v.as_bytes())
    }

    fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
    }
}
