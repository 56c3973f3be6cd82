//! W3C Trace Context (Level 2, which accepts every Level 1 header) through real servers, as the next hop sees
//! it: each framework's example service relays `GET /relay/{id}` to a
//! loopback server that records the `traceparent` and `tracestate` it
//! receives. A table of incoming headers, the same answers on axum,
//! actix-web and tower, with nothing exported.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::routing::get;
use observe_tests::{
    FRAMEWORKS, client, example_observe, example_shop, next_hop, spawn_axum, start_example_with,
};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";
const OTHER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

/// What the next hop must see.
#[derive(Debug, Clone)]
enum Expect {
    /// The caller's trace goes on, with this tracestate (or none).
    Continue(Option<String>),
    /// A new trace: none of the incoming trace ids.
    NewTrace,
}

fn parent(trace: &str, flags: &str) -> String {
    format!("00-{trace}-{PARENT}-{flags}")
}

/// A case: its name, the headers sent (each a line of its own), and what
/// the next hop must see.
type Case = (&'static str, Vec<(&'static str, String)>, Expect);

fn cases() -> Vec<Case> {
    let tp = |v: String| ("traceparent", v);
    let ts = |v: &str| ("tracestate", v.to_string());
    let valid = parent(TRACE, "01");
    let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    vec![
        (
            "one member",
            vec![tp(valid.clone()), ts("congo=t61rcWkgMzE")],
            Expect::Continue(Some("congo=t61rcWkgMzE".into())),
        ),
        (
            "whitespace around members",
            vec![tp(valid.clone()), ts("foo=1 , bar=2")],
            Expect::Continue(Some("foo=1,bar=2".into())),
        ),
        (
            "lines joined in order",
            vec![tp(valid.clone()), ts("foo=1"), ts("bar@vendor=2")],
            Expect::Continue(Some("foo=1,bar@vendor=2".into())),
        ),
        (
            "an empty line hides nothing",
            vec![tp(valid.clone()), ts(""), ts("foo=1")],
            Expect::Continue(Some("foo=1".into())),
        ),
        (
            "empty members skipped",
            vec![tp(valid.clone()), ts("foo=1,,bar=2,")],
            Expect::Continue(Some("foo=1,bar=2".into())),
        ),
        (
            "duplicate key keeps the first",
            vec![tp(valid.clone()), ts("foo=1,foo=2")],
            Expect::Continue(Some("foo=1".into())),
        ),
        (
            "an invalid key discards all",
            vec![tp(valid.clone()), ts("foo=1,Bar=2")],
            Expect::Continue(None),
        ),
        (
            "W3C Level 2 keys: @ anywhere after the first character",
            vec![
                tp(valid.clone()),
                ts("foo@=1,foo@@bar=1,foo@bar@baz=1"),
                ts(&format!("{}@v=1", "t".repeat(242))),
            ],
            Expect::Continue(Some(format!(
                "foo@=1,foo@@bar=1,foo@bar@baz=1,{}@v=1",
                "t".repeat(242)
            ))),
        ),
        (
            "a key starting with @ discards all",
            vec![tp(valid.clone()), ts("foo=1,@foo=1")],
            Expect::Continue(None),
        ),
        (
            "a 257-character key discards all",
            vec![
                tp(valid.clone()),
                ts(&format!("foo=1,{}=1", "k".repeat(257))),
            ],
            Expect::Continue(None),
        ),
        (
            "a value with = discards all",
            vec![tp(valid.clone()), ts("foo=1=2")],
            Expect::Continue(None),
        ),
        (
            "an invalid member on a second line discards all",
            vec![tp(valid.clone()), ts("foo=1"), ts("bar")],
            Expect::Continue(None),
        ),
        (
            "33 members discard all",
            vec![tp(valid.clone()), ts(&many.join(","))],
            Expect::Continue(None),
        ),
        (
            "32 members pass",
            vec![tp(valid.clone()), ts(&many[..32].join(","))],
            Expect::Continue(Some(many[..32].join(","))),
        ),
        (
            "unsampled continues",
            vec![tp(parent(TRACE, "00"))],
            Expect::Continue(None),
        ),
        (
            "whitespace around traceparent",
            vec![tp(format!("  {valid}\t"))],
            Expect::Continue(None),
        ),
        (
            "a later version's extra field",
            vec![tp(format!("cc-{TRACE}-{PARENT}-01-extra"))],
            Expect::Continue(None),
        ),
        (
            "two traceparent headers: new trace",
            vec![tp(valid.clone()), tp(parent(OTHER_TRACE, "01"))],
            Expect::NewTrace,
        ),
        (
            "a folded traceparent: new trace",
            vec![tp(format!("{valid},{}", parent(OTHER_TRACE, "01")))],
            Expect::NewTrace,
        ),
        (
            "version ff: new trace",
            vec![tp(format!("ff-{TRACE}-{PARENT}-01"))],
            Expect::NewTrace,
        ),
        (
            "uppercase: new trace",
            vec![tp(parent(&TRACE.to_uppercase(), "01"))],
            Expect::NewTrace,
        ),
        (
            "all-zero trace id: new trace",
            vec![tp(parent(&"0".repeat(32), "01"))],
            Expect::NewTrace,
        ),
        (
            "tracestate alone means nothing",
            vec![ts("foo=1")],
            Expect::NewTrace,
        ),
    ]
}

/// The trace id and parent id of an outgoing `traceparent`.
fn ids(traceparent: &str) -> (String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[0], "00", "{traceparent}");
    (parts[1].to_string(), parts[2].to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_hop_receives_what_the_w3c_rules_say() {
    let (hop, seen) = next_hop().await;
    for framework in FRAMEWORKS {
        let observe = example_observe();
        let shop = example_shop(&observe);
        shop.set_upstream(&observe, &format!("http://{hop}"))
            .unwrap();
        let addr = start_example_with(framework, &observe, shop).await;
        for (name, headers, expect) in cases() {
            let before = seen.lock().unwrap().len();
            let mut request = client().get(format!("http://{addr}/relay/1"));
            for (header, value) in &headers {
                request = request.header(*header, value);
            }
            let status = request.send().await.unwrap().status();
            assert_eq!(status, 404, "{framework} {name}");
            let received = seen.lock().unwrap()[before].clone();
            assert_eq!(
                received.traceparent.len(),
                1,
                "{framework} {name}: {received:?}"
            );
            let (trace, parent) = ids(&received.traceparent[0]);
            match expect {
                Expect::Continue(state) => {
                    assert_eq!(trace, TRACE, "{framework} {name}");
                    assert_ne!(
                        parent, PARENT,
                        "{framework} {name}: the call has its own span"
                    );
                    let state: Vec<String> = state.into_iter().collect();
                    assert_eq!(received.tracestate, state, "{framework} {name}");
                }
                Expect::NewTrace => {
                    assert_ne!(trace, TRACE, "{framework} {name}");
                    assert_ne!(trace, OTHER_TRACE, "{framework} {name}");
                    assert!(received.tracestate.is_empty(), "{framework} {name}");
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_outgoing_call_names_its_own_span() {
    let (hop, seen) = next_hop().await;
    let observe = observe_core::Observe::builder().build().unwrap();
    let api = observe.dependency("next");
    let app = Router::new()
        .route(
            "/fan-out",
            get(move || {
                let api = api.clone();
                async move {
                    for _ in 0..3 {
                        let _ = api
                            .call("get", async {
                                observe_core::trace::inject_reqwest(
                                    client().get(format!("http://{hop}/users/1")),
                                )
                                .send()
                                .await
                            })
                            .await;
                    }
                    "done"
                }
            }),
        )
        .layer(observe_axum::ObserveLayer::new(&observe));
    let addr = spawn_axum(app).await;
    client()
        .get(format!("http://{addr}/fan-out"))
        .header("traceparent", parent(TRACE, "01"))
        .send()
        .await
        .unwrap();
    let received = seen.lock().unwrap().clone();
    assert_eq!(received.len(), 3, "{received:?}");
    let parents: std::collections::BTreeSet<String> = received
        .iter()
        .map(|r| {
            let (trace, parent) = ids(&r.traceparent[0]);
            assert_eq!(trace, TRACE);
            assert_ne!(parent, PARENT);
            parent
        })
        .collect();
    assert_eq!(
        parents.len(),
        3,
        "three calls, three parent ids: {received:?}"
    );
}
