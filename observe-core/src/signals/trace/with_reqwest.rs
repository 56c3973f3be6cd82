//! Trace context for calls made with `reqwest` (feature `reqwest`), kept
//! apart so the rest of the API does not tie users to one reqwest version.

/// [`inject`](super::inject) for a `reqwest` request being built.
pub fn inject_reqwest(builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let mut headers = http::HeaderMap::new();
    super::inject(&mut headers);
    builder.headers(headers)
}
