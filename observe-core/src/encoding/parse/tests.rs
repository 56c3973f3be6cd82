//! The reader against hand-written documents, malformed ones, and the
//! text encoder's escaping.

use super::*;

#[test]
fn families_samples_labels_and_exemplars() {
    let text = "# HELP shop_orders Orders \\\\ placed.\\nToday.\n# TYPE shop_orders counter\n\
        shop_orders_total{region=\"eu\\\\w\\n\\\"1\\\"\",b=\"}, {\"} 3 # {trace_id=\"ab\"} 1.5 1700000000.25\n\
        shop_orders_created{region=\"eu\"} 1.7e9\n\
        # HELP up Up.\n# TYPE up gauge\n# UNIT up ratio\nup 1.0 12.5\nup{a=\"\",} NaN\n# EOF\n";
    let families = parse(text).unwrap();
    assert_eq!(families.len(), 2);
    let orders = &families[0];
    assert_eq!((orders.name, orders.kind), ("shop_orders", Kind::Counter));
    assert_eq!(orders.help.as_deref(), Some("Orders \\ placed.\nToday."));
    let total = &orders.samples[0];
    assert_eq!(total.name, "shop_orders_total");
    assert_eq!(total.value, 3.0);
    let pairs: Vec<_> = label_pairs(total.labels).collect();
    assert_eq!(
        pairs,
        [
            ("region", Cow::Owned("eu\\w\n\"1\"".to_string())),
            ("b", Cow::Borrowed("}, {"))
        ]
    );
    let exemplar = total.exemplar.as_ref().unwrap();
    assert_eq!(exemplar.labels, "trace_id=\"ab\"");
    assert_eq!(
        (exemplar.value, exemplar.timestamp),
        (1.5, Some(1700000000.25))
    );
    assert_eq!(orders.samples[1].value, 1.7e9);
    let up = &families[1];
    assert_eq!((up.kind, up.unit), (Kind::Gauge, Some("ratio")));
    assert_eq!(up.samples[0].timestamp, Some(12.5));
    assert!(up.samples[1].value.is_nan());
    assert_eq!(label_pairs(up.samples[1].labels).count(), 1);
}

#[test]
fn le_is_split_off_wherever_it_is() {
    fn split(labels: &str) -> Option<(String, &str)> {
        split_le(labels).map(|(rest, le)| (rest.into_owned(), le))
    }
    assert_eq!(split("a=\"1\",le=\"0.5\""), Some(("a=\"1\"".into(), "0.5")));
    assert_eq!(split("le=\"+Inf\""), Some(("".into(), "+Inf")));
    assert_eq!(
        split("le=\"1\",a=\"x\",b=\"y\""),
        Some(("a=\"x\",b=\"y\"".into(), "1"))
    );
    assert_eq!(
        split("a=\"x\",le=\"1\",b=\"y\""),
        Some(("a=\"x\",b=\"y\"".into(), "1"))
    );
    // A value that looks like the end of a pair is only a value.
    assert_eq!(
        split("a=\"x,le=\",le=\"2\""),
        Some(("a=\"x,le=\"".into(), "2"))
    );
    assert_eq!(
        split("a=\"\\\\\",le=\"2\""),
        Some(("a=\"\\\\\"".into(), "2"))
    );
    assert_eq!(split("a=\"1\""), None);
    assert_eq!(split("xle=\"1\""), None);
    assert_eq!(
        split("a=\"1\",xle=\"2\",le=\"3\""),
        Some(("a=\"1\",xle=\"2\"".into(), "3"))
    );
    // An escaped quote at the end of the value before `le` is no bound.
    assert_eq!(
        split("a=\"x\\\",le=\\\"\",le=\"4\""),
        Some(("a=\"x\\\",le=\\\"\"".into(), "4"))
    );
}

proptest::proptest! {
    /// The fast path from the end agrees with walking the pairs.
    #[test]
    fn le_from_the_end_agrees(a in "[a-z=,\"\\\\]{0,12}", b in "[a-z=,\"\\\\]{0,12}") {
        let (mut ea, mut eb) = (String::new(), String::new());
        crate::encoding::escape_label_value(&mut ea, &a);
        crate::encoding::escape_label_value(&mut eb, &b);
        let labels = format!("a=\"{ea}\",le=\"{eb}\"");
        let walked = raw_pairs(&labels).find(|p| p.name == "le").map(|p| p.raw_value);
        proptest::prop_assert_eq!(last_pair_le(&labels).map(|(_, le)| le), walked);
        let expected = format!("a=\"{ea}\"");
        proptest::prop_assert_eq!(
            last_pair_le(&labels).map(|(rest, _)| rest),
            Some(expected.as_str())
        );
    }
}

#[test]
fn samples_without_metadata_are_their_own_families() {
    let families = parse("a 1\nb{x=\"1\"} 2\n").unwrap();
    let names: Vec<_> = families.iter().map(|f| (f.name, f.kind)).collect();
    assert_eq!(names, [("a", Kind::Unknown), ("b", Kind::Unknown)]);
}

#[test]
fn malformed_lines_name_the_line() {
    for (text, reason) in [
        ("a{x=\"1} 2\n", "unterminated label value"),
        ("a{x=1} 2\n", "a label value is quoted"),
        ("a{1x=\"1\"} 2\n", "invalid label name"),
        ("a{x=\"\\t\"} 2\n", "invalid escape in a label value"),
        ("a{x=\"1\" y=\"2\"} 2\n", "expected , or } after a label"),
        ("a 1\na two\n", "invalid value"),
        ("a 1 yesterday\n", "invalid timestamp"),
        ("a\n", "a sample needs a value after its name"),
        ("# TYPE a magic\n", "unknown type"),
        ("# FOO a b\n", "unknown comment keyword"),
        ("\n", "empty line or comment without a keyword"),
        ("9a 1\n", "invalid metric name"),
        ("a 1 # x 1\n", "an exemplar starts with a label set"),
    ] {
        let err = parse(text).unwrap_err();
        assert_eq!(err.reason, reason, "{text:?}");
    }
    assert_eq!(parse("a 1\na two\n").unwrap_err().line, 2);
}

#[test]
fn floats_as_openmetrics_writes_them() {
    assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
    assert_eq!(parse_float("-Inf"), Some(f64::NEG_INFINITY));
    assert_eq!(parse_float("3.3731e-5"), Some(3.3731e-5));
    assert_eq!(parse_float("17"), Some(17.0));
    assert_eq!(parse_float("inf"), None);
    assert_eq!(parse_float("0x10"), None);
    assert_eq!(parse_float(""), None);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Any document, however malformed, is parsed or refused: never a
    /// panic.
    #[test]
    fn any_document_is_answered(text in "(# (HELP|TYPE|UNIT|EOF) )?[a-z_{}=\",\\\\# .0-9e+-]{0,80}(\n[a-z_{}=\",\\\\# .0-9]{0,40}){0,4}") {
        if let Ok(families) = parse(&text) {
            for family in families {
                for sample in family.samples {
                    let _ = label_pairs(sample.labels).count();
                }
            }
        }
    }

    /// A label value survives escaping by the text encoder and
    /// unescaping here.
    #[test]
    fn label_values_round_trip(value in "\\PC{0,20}") {
        let mut escaped = String::new();
        crate::encoding::escape_label_value(&mut escaped, &value);
        let line = format!("m{{a=\"{escaped}\",b=\"x\"}} 1\n");
        let families = parse(&line).unwrap();
        let pairs: Vec<_> = label_pairs(families[0].samples[0].labels).collect();
        proptest::prop_assert_eq!(pairs[0].1.as_ref(), value.as_str());
        proptest::prop_assert_eq!(pairs[1].1.as_ref(), "x");
    }
}
