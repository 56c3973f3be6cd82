//! Proof that a write was meant for this listener: a page in the
//! operator's browser can reach a loopback listener after rebinding its own
//! name to 127.0.0.1 (DNS rebinding), and then its requests are
//! same-origin. They still carry the page's name in `Host` and `Origin`,
//! which a write must not.

use std::net::{IpAddr, SocketAddr};

use super::AdminRequest;

/// Refuses a write whose `Host` is not a loopback name, an IP address the
/// listener may be reached at, or whose `Origin` is present and not the
/// page's own (`http://` or `https://` and the same `Host`).
pub(super) fn check(request: &AdminRequest<'_>, listener: SocketAddr) -> Result<(), &'static str> {
    let Some(host) = request.host else {
        return Err("a write needs a Host header");
    };
    if !host_allowed(host, listener) {
        return Err(
            "Host is not this listener's: writes are taken at localhost, a loopback address or the listener's own address (a DNS name could have been rebound)",
        );
    }
    if let Some(origin) = request.origin {
        let same = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|authority| authority.eq_ignore_ascii_case(host));
        if !same {
            return Err("Origin is not this listener's: writes from other pages are refused");
        }
    }
    Ok(())
}

/// `localhost` or an IP literal that is loopback, the listener's own
/// address, or any address when the listener is bound to all of them (a
/// name other than `localhost` could resolve anywhere).
fn host_allowed(host: &str, listener: SocketAddr) -> bool {
    let name = match host.strip_prefix('[') {
        // `[::1]:9464`
        Some(rest) => match rest.split_once(']') {
            Some((ip, port)) if port.is_empty() || is_port(port) => ip,
            _ => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            _ => host,
        },
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let Ok(ip) = name.parse::<IpAddr>() else {
        return false;
    };
    ip.is_loopback() || ip == listener.ip() || listener.ip().is_unspecified()
}

fn is_port(text: &str) -> bool {
    text.strip_prefix(':')
        .unwrap_or(text)
        .parse::<u16>()
        .is_ok()
}

/// Whether `content_type` is JSON (`application/json`, with parameters or
/// not).
pub(super) fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("application/json"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(host: Option<&'a str>, origin: Option<&'a str>) -> AdminRequest<'a> {
        AdminRequest {
            method: "PUT",
            path: "/observe/log-level",
            query: None,
            authorization: None,
            authorization_headers: 0,
            host,
            origin,
            content_type: Some("application/json"),
            accept: None,
            peer: None,
            body: b"",
        }
    }

    #[test]
    fn loopback_and_own_hosts_pass_names_do_not() {
        let loopback: SocketAddr = "127.0.0.1:9464".parse().unwrap();
        for host in [
            "localhost",
            "localhost:9464",
            "127.0.0.1:9464",
            "127.0.0.2",
            "[::1]:9464",
            "[::1]",
        ] {
            assert!(
                check(&request(Some(host), None), loopback).is_ok(),
                "{host}"
            );
        }
        for host in [
            "evil.example:9464",
            "evil.example",
            "10.0.0.5:9464",
            "[::1",
            "localhost.evil.example",
            "",
        ] {
            assert!(
                check(&request(Some(host), None), loopback).is_err(),
                "{host}"
            );
        }
        assert!(check(&request(None, None), loopback).is_err());
        let everywhere: SocketAddr = "0.0.0.0:9464".parse().unwrap();
        assert!(check(&request(Some("10.0.0.5:9464"), None), everywhere).is_ok());
        assert!(check(&request(Some("admin.internal:9464"), None), everywhere).is_err());
    }

    #[test]
    fn a_foreign_origin_is_refused() {
        let listener: SocketAddr = "127.0.0.1:9464".parse().unwrap();
        let host = Some("127.0.0.1:9464");
        assert!(check(&request(host, Some("http://127.0.0.1:9464")), listener).is_ok());
        for origin in [
            "http://evil.example:9464",
            "null",
            "http://127.0.0.1:9465",
            "file://",
            // What an adapter passes for an Origin that is not text.
            "",
        ] {
            assert!(
                check(&request(host, Some(origin)), listener).is_err(),
                "{origin}"
            );
        }
    }

    #[test]
    fn json_only() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        for other in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonp",
            "",
        ] {
            assert!(!is_json(Some(other)), "{other}");
        }
        assert!(!is_json(None));
    }
}
