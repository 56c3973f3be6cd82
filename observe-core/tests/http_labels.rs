//! Request-derived labels: bad declarations are refused with a message
//! naming the label, and handler code gets an error, never a panic.

use observe_core::context::{HttpLabelError, set_http_label};
use observe_core::{BuildError, Format, Observe};

fn build_error(builder: observe_core::ObserveBuilder) -> String {
    match builder.build() {
        Ok(_) => panic!("built"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_declarations_name_the_label() {
    let error = build_error(Observe::builder().http_label("tenant-tier"));
    assert!(
        error.contains("invalid http label \"tenant-tier\": not a Prometheus label name"),
        "{error}"
    );
    let error = build_error(Observe::builder().http_label("http_route"));
    assert!(
        error.contains("observe sets a label of that name itself"),
        "{error}"
    );
    let error = build_error(
        Observe::builder()
            .const_label("region", "eu")
            .http_label("region"),
    );
    assert!(error.contains("a constant label has that name"), "{error}");
    let error = build_error(Observe::builder().http_label("plan").http_label("plan"));
    assert!(error.contains("declared twice"), "{error}");
    let four = Observe::builder()
        .http_label("a")
        .http_label("b")
        .http_label("c")
        .http_label("d");
    assert!(matches!(
        four.build(),
        Err(BuildError::TooManyHttpLabels(4))
    ));
    let error = build_error(Observe::builder().http_label_values(0));
    assert!(error.contains("expected 1 to 250"), "{error}");
}

#[test]
fn handler_code_gets_an_error_not_a_panic() {
    assert!(matches!(
        set_http_label("plan", "pro"),
        Err(HttpLabelError::NoRequest(_))
    ));
    let observe = Observe::builder().http_label("plan").build().unwrap();
    let mut request = observe.start_request("GET", Some("/users/{id}"));
    let context = request.context().clone();
    let undeclared = context.set_http_label("tenant", "gold");
    assert!(
        matches!(&undeclared, Err(HttpLabelError::Undeclared { declared, .. }) if declared == &["plan"]),
        "{undeclared:?}"
    );
    context.set_http_label("plan", "pro").unwrap();
    request.response(200);
    request.finish();
    let text = observe.render(Format::Text).into_text();
    assert!(
        text.contains("http_route=\"/users/{id}\",plan=\"pro\"} 1"),
        "{text}"
    );
    // Without labels declared, the series look as before.
    let plain = Observe::builder().build().unwrap();
    let mut request = plain.start_request("GET", Some("/users/{id}"));
    request.response(200);
    request.finish();
    let text = plain.render(Format::Text).into_text();
    assert!(text.contains("http_route=\"/users/{id}\"} 1"), "{text}");
    assert!(!text.contains("observe_http_label_overflow"));
}
