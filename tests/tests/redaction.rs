//! Redaction end to end: what a careless handler logs (vendor tokens, a PEM
//! key, secrets in prose and in escaped JSON, OAuth parameters, personal
//! data) goes through the axum layer and the process-wide logger, and no
//! planted secret reaches the output bytes; ordinary values and counts do.
//! The example service's own lines come through unharmed.
//!
//! Logging is process-wide, so this file installs it once.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use observe_core::Observe;
use observe_tests::{
    CapturedOutput, Framework, client, eventually, example_observe, spawn_axum, start_example,
};
use serde_json::Value;

fn output() -> &'static CapturedOutput {
    static OUTPUT: OnceLock<CapturedOutput> = OnceLock::new();
    OUTPUT.get_or_init(|| {
        let captured = CapturedOutput::default();
        let observe = Observe::builder().service_name("shop").build().unwrap();
        let guard = observe
            .logging()
            .filter("info")
            .writer(captured.clone())
            .try_init()
            .expect("first and only logging setup in this process");
        // Lines are flushed by the writer thread; keep the guard for good.
        std::mem::forget(guard);
        captured
    })
}

fn lines() -> Vec<Value> {
    output()
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

/// Planted secrets, each with `PLANTED` in it and of a shape the redactor
/// knows.
fn planted() -> Vec<String> {
    vec![
        "AKIAPLANTED0EXAMPLE1".to_owned(),
        format!("ghp_PLANTED{}", "a1B2c3".repeat(5)),
        "xoxb-123456789012-PLANTED-abcdefghij".to_owned(),
        "sk_live_PLANTED4eC39HqLyjWDarjtT1zdp7dc".to_owned(),
        "sk-proj-PLANTEDAbCdEfGhIjKlMnOpQrStUvWxYz0123456789".to_owned(),
        format!("glpat-PLANTED{}", "x1Y2z3".repeat(3)),
        "SG.PLANTEDQlKU0ufo8x5d1AB.TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-PLANTED".to_owned(),
    ]
}

const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqPLANTEDhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n\
                   VJTUt9Us8cKjMzEfYyjiWA4R4PLANTEDbS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNb\n\
                   -----END PRIVATE KEY-----\n";

#[derive(Debug)]
#[allow(dead_code)] // read through its Debug output only
struct Credentials {
    user: &'static str,
    private_key: &'static str,
    pem: &'static str,
}

/// A handler that logs everything a careless service might.
async fn careless(uri: axum::http::Uri) -> &'static str {
    let [aws, github, slack, stripe, openai, gitlab, sendgrid] =
        <[String; 7]>::try_from(planted()).unwrap();
    tracing::info!(
        uri = %uri,
        upstream_reply = %format!("{{\"error\":\"bad key {openai}\",\"request\":\"{{\\\"password\\\":\\\"PLANTED-json-pw\\\"}}\"}}"),
        phone = "555 0100 PLANTED",
        home_address = "1 PLANTED Street",
        date_of_birth = "PLANTED-1990-01-01",
        tokens_used = 1532,
        token_limit = 4096,
        max_tokens = %"256",
        "deploy with {aws} and {github}; notify {slack}; charge via {stripe}; \
         mirror with {gitlab}; mail via {sendgrid}"
    );
    tracing::info!(
        creds = ?Credentials { user: "bob", private_key: PEM, pem: PEM },
        "loaded key {PEM}"
    );
    tracing::warn!(
        "login failed: the password is PLANTED-hunter3, API key: PLANTED-api-key; \
         call +44 20 7946 0958, ssn 078-05-1120, pay GB29 NWBK 6016 1331 9268 19"
    );
    tracing::info!("the token is invalid for user 42; order total 129.99 EUR");
    // An AWS secret access key in prose, next to its key id.
    tracing::warn!(
        "aws key AKIAIOSFODNN7EXAMPLE and secret wJalrXUtnFEMI/K7MDENG/bPLANTEDxEXAMPLEKE; \
         deployed commit 3f786850e387550fdab836ed7e6dc881de23001b"
    );
    observe_core::add_event_field("note", format!("retry with {github}"));
    "ok"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_never_reach_the_output() {
    output();
    let observe = Observe::builder().build().unwrap();
    let app = Router::new()
        .route("/careless", get(careless))
        .layer(observe_axum::ObserveLayer::new(&observe));
    let addr = spawn_axum(app).await;
    let status = client()
        .get(format!(
            "http://{addr}/careless?code=PLANTED-oauth-code&state=ok&sig=PLANTED-sas-sig&page=2\
             &email=PLANTED.user%40example.org&user=bob&pass=PLANTED-short-pw\
             &q=red+shoes&sort=price%20asc"
        ))
        .header("x-request-id", "careless-redaction")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let all = eventually(Duration::from_secs(10), "the handler's lines", || async {
        let lines = lines();
        let done = lines
            .iter()
            .any(|l| l["request_id"] == "careless-redaction" && l["message"] == "request finished");
        done.then_some(lines)
    })
    .await;
    let raw = output().text();
    for secret in planted() {
        assert!(
            !raw.contains(&secret),
            "{secret} leaked into the log output"
        );
    }
    // Nothing marked PLANTED survives, in any form.
    assert!(!raw.contains("PLANTED"), "a planted secret leaked:\n{raw}");
    assert!(!raw.contains("7946 0958") && !raw.contains("078-05-1120"));
    assert!(!raw.contains("NWBK") && !raw.contains("MIIEv"));

    let mine: Vec<_> = all
        .iter()
        .filter(|l| l["request_id"] == "careless-redaction")
        .collect();
    let deploy = mine
        .iter()
        .find(|l| l["message"].as_str().unwrap().starts_with("deploy with"))
        .unwrap();
    // Ordinary values and counts survive; personal data fields do not.
    assert_eq!(deploy["fields"]["tokens_used"], 1532);
    assert_eq!(deploy["fields"]["token_limit"], 4096);
    assert_eq!(deploy["fields"]["max_tokens"], "256");
    assert_eq!(deploy["fields"]["phone"], "[REDACTED]");
    assert_eq!(deploy["fields"]["home_address"], "[REDACTED]");
    let uri = deploy["fields"]["uri"].as_str().unwrap();
    assert!(uri.contains("state=ok") && uri.contains("page=2"), "{uri}");
    // Encoded and short-keyed values went; clean encoded ones stay as sent.
    assert!(
        uri.contains("email=[REDACTED]") && uri.contains("pass=[REDACTED]"),
        "{uri}"
    );
    assert!(
        uri.contains("q=red+shoes") && uri.contains("sort=price%20asc"),
        "{uri}"
    );
    let aws = mine
        .iter()
        .find(|l| l["message"].as_str().unwrap().starts_with("aws key"))
        .unwrap();
    assert_eq!(
        aws["message"],
        "aws key [REDACTED] and secret [REDACTED]; deployed commit 3f786850e387550fdab836ed7e6dc881de23001b"
    );
    let prose = mine
        .iter()
        .find(|l| l["message"].as_str().unwrap().starts_with("the token is"))
        .unwrap();
    assert_eq!(
        prose["message"],
        "the token is invalid for user 42; order total 129.99 EUR"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_service_lines_come_through_unharmed() {
    output();
    let addr = start_example(Framework::Axum, &example_observe()).await;
    let response = client()
        .post(format!("http://{addr}/orders"))
        .header("x-request-id", "example-redaction")
        .body(r#"{"item":"book","quantity":3}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let event = eventually(Duration::from_secs(10), "the event", || async {
        lines()
            .into_iter()
            .find(|l| l["request_id"] == "example-redaction" && l["message"] == "request finished")
    })
    .await;
    assert_eq!(event["event"]["route"], "/orders");
    assert_eq!(event["event"]["fields"]["order_quantity"], "3");
    assert!(!output().text().contains("[REDACTED]\",\"route"));
}
