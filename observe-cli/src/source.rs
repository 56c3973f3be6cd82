//! Where the SLOs come from: a file in observe's form, or a running
//! service's admin listener.

use std::path::{Path, PathBuf};
use std::time::Duration;

use observe_slo::{SloError, Slos};

/// How long `--from` waits for the service.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The admin listener's path for the SLOs.
const SLOS_PATH: &str = "/observe/api/slos";

/// Why the SLOs could not be had. Each message starts with the flag.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file cannot be read.
    #[error("--slos {}: cannot read it: {error}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not observe's SLO document.
    #[error("--slos {}: {error}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The field and what it accepts.
        error: SloError,
    },
    /// Not an http(s) URL.
    #[error(
        "--from {0:?}: expected the admin listener's http:// or https:// URL, e.g. http://127.0.0.1:9464"
    )]
    Url(String),
    /// No connection, or no answer in time.
    #[error("--from: cannot reach {url}: {error}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What went wrong.
        error: String,
    },
    /// An answer other than 200.
    #[error("--from: {url} answered {status}: {body}")]
    Status {
        /// The URL asked.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the body (the admin listener's JSON error).
        body: String,
    },
    /// The service's answer is not observe's SLO document.
    #[error("--from: {url}: {error}")]
    Served {
        /// The URL asked.
        url: String,
        /// The field and what it accepts.
        error: SloError,
    },
}

/// The SLOs of a file in observe's form: JSON when it ends in `.json`,
/// YAML in `.yaml` or `.yml`, else JSON when it starts with `{`, else YAML.
/// `-` reads standard input (`curl .../observe/api/slos | observe rules
/// --slos -`).
pub fn read_slos(path: &Path) -> Result<Slos, LoadError> {
    let read = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    };
    let text = read.map_err(|error| LoadError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let json = match extension.as_deref() {
        Some("json") => true,
        Some("yaml" | "yml") => false,
        _ => text.trim_start().starts_with('{'),
    };
    let slos = if json {
        Slos::from_json(&text)
    } else {
        Slos::from_yaml(&text)
    };
    slos.map_err(|error| LoadError::File {
        path: path.to_path_buf(),
        error,
    })
}

/// The SLOs a running service's admin listener serves: `GET
/// <url>/observe/api/slos` (`url` may be the whole path, and without a
/// scheme is taken as http).
pub fn fetch_slos(url: &str, timeout: Duration) -> Result<Slos, LoadError> {
    let base = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let target = if base.trim_end_matches('/').ends_with(SLOS_PATH) {
        base
    } else {
        format!("{}{SLOS_PATH}", base.trim_end_matches('/'))
    };
    let valid = reqwest::Url::parse(&target).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    });
    if !valid {
        return Err(LoadError::Url(url.to_string()));
    }
    // reqwest is built with rustls and no default crypto provider.
    observe_core::install_crypto_provider();
    let unreachable = |error: reqwest::Error| LoadError::Unreachable {
        url: target.clone(),
        error: chain(&error),
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(unreachable)?;
    let response = client
        .get(&target)
        .header("accept", "application/json")
        .send()
        .map_err(unreachable)?;
    let status = response.status().as_u16();
    let body = response.text().map_err(unreachable)?;
    if status != 200 {
        return Err(LoadError::Status {
            url: target,
            status,
            body: body
                .chars()
                .take(300)
                .collect::<String>()
                .trim()
                .to_string(),
        });
    }
    Slos::from_json(&body).map_err(|error| LoadError::Served { url: target, error })
}

/// An error and its sources, one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}
