//! Property tests: planted secrets never survive, wherever they are put;
//! ordinary values come back borrowed and unchanged.

use super::keys::{DEFAULT_FRAGMENTS, has_default_fragment};
use super::*;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    // No regression files: this suite must not write into the tree.
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(256)
    }
}

/// A secret of one of the shapes the value pass knows, with a random body.
fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "(AKIA|ASIA)[A-Z0-9]{16}",
        "AIza[A-Za-z0-9_-]{35}",
        "gh[pousr]_[A-Za-z0-9]{36}",
        "github_pat_[A-Za-z0-9_]{82}",
        "glpat-[A-Za-z0-9_-]{20}",
        "xox[bpars]-[0-9]{10,13}-[A-Za-z0-9-]{10,30}",
        "(sk|rk)_(live|test)_[A-Za-z0-9]{24,99}",
        "SK[0-9a-f]{32}",
        "SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}",
        "npm_[A-Za-z0-9]{36}",
        "pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{60,120}",
        "sk-[A-Z][0-9][A-Za-z0-9]{46}",
        "sk-proj-[A-Z0-9][A-Za-z0-9_-]{40,120}",
        "eyJ[A-Za-z0-9_-]{8,30}\\.eyJ[A-Za-z0-9_-]{8,60}\\.[A-Za-z0-9_-]{16,43}",
        // Personal data by shape.
        "4[0-9]{15}".prop_filter_map("a Luhn-valid card", |card| luhn_fix(&card)),
        "\\+[1-9][0-9]{7,13}",
        "[1-578][0-9]{2}-[1-9][0-9]-[1-9][0-9]{3}",
        Just("DE89370400440532013000".to_owned()),
        Just("GB29 NWBK 6016 1331 9268 19".to_owned()),
        "[a-z]{1,10}\\.[a-z]{1,10}@[a-z]{2,10}\\.(com|org|io)",
    ]
}

/// The card with its last digit replaced by the Luhn check digit.
fn luhn_fix(card: &str) -> Option<String> {
    let mut digits: Vec<u8> = card.bytes().map(|c| c - b'0').collect();
    let last = digits.len() - 1;
    (0..10).find_map(|d| {
        digits[last] = d;
        super::pii::luhn(&digits).then(|| digits.iter().map(|d| char::from(b'0' + d)).collect())
    })
}

/// A PEM private key, newlines real or escaped.
fn pem() -> impl Strategy<Value = (String, String)> {
    (
        prop_oneof![
            Just("PRIVATE KEY"),
            Just("RSA PRIVATE KEY"),
            Just("OPENSSH PRIVATE KEY")
        ],
        "[A-Za-z0-9+/]{64}",
        "[A-Za-z0-9+/]{16,64}",
        prop_oneof![Just("\n"), Just("\\n"), Just("\\\\n")],
    )
        .prop_map(|(label, line, last, nl)| {
            (
                format!("-----BEGIN {label}-----{nl}{line}{nl}{last}=={nl}-----END {label}-----"),
                line,
            )
        })
}

/// Ordinary text: words, numbers, punctuation, a path, no secret.
fn prose() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        // Not `is`: `token is b` announces a secret (see `prose_keywords`).
        "[a-z]{1,10}".prop_filter("an announcing `is`", |w| w != "is"),
        "[0-9]{1,6}",
        Just("token".to_owned()),
        Just("password".to_owned()),
        Just("secret".to_owned()),
        Just("the".to_owned()),
        Just("/api/v1/orders".to_owned()),
        Just("status=200".to_owned()),
        Just("in 12.4ms".to_owned()),
        Just("-".to_owned()),
        Just(",".to_owned()),
    ];
    prop::collection::vec(word, 0..16).prop_map(|w| w.join(" "))
}

/// Where a secret is planted: the message text around it.
fn placed(secret: &str, form: usize, before: &str, after: &str) -> String {
    match form {
        0 => format!("{secret} {after}"),
        1 => format!("{before} {secret} {after}"),
        2 => format!("{before} {secret}"),
        3 => format!("{before} Login {{ user: \"bob\", key: \"{secret}\" }} {after}"),
        4 => format!("GET https://api.example.com/v1?q=1&key={secret}&page=2 {after}"),
        5 => format!(r#"{{"msg":"{before} sent \"{secret}\" ok","n":1}}"#),
        6 => format!(r#"{{"body":"{{\"value\":\"{secret}\"}}"}}"#),
        _ => format!("{before} ({secret}), {after}"),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn planted_shapes_never_survive(
        secret in secret(),
        form in 0..8usize,
        before in prose(),
        after in prose(),
    ) {
        let value = placed(&secret, form, &before, &after);
        let out = Redactor::default().redact_value(&value);
        prop_assert!(!out.contains(&secret), "{value:?} -> {out:?}");
    }

    #[test]
    fn planted_shapes_never_survive_a_field(secret in secret(), key in "[a-z]{1,8}(_[a-z]{1,8})?") {
        let out = Redactor::default().redact_field(&key, &secret);
        prop_assert!(!out.contains(&secret), "{key}={secret:?} -> {out:?}");
    }

    #[test]
    fn planted_private_keys_never_survive(
        (pem, line) in pem(),
        form in 0..8usize,
        before in prose(),
        after in prose(),
    ) {
        let value = placed(&pem, form, &before, &after);
        let out = Redactor::default().redact_value(&value);
        prop_assert!(!out.contains(&line) && !out.contains("PRIVATE"), "{value:?} -> {out:?}");
    }

    #[test]
    fn announced_secrets_never_survive(
        // At least four characters: `the password is A!` reads as a
        // sentence, which the prose check leaves alone by design.
        secret in "[A-Za-z0-9!$%*+/]{3,24}[0-9!$%*+/]",
        form in 0..10usize,
        before in prose(),
        after in prose(),
    ) {
        let planted = match form {
            0 => format!("the password is {secret}"),
            1 => format!("secret: {secret}"),
            2 => format!("API key: {secret}"),
            3 => format!("token = {secret}"),
            4 => format!("?code={secret}&state=x"),
            5 => format!("&refresh_token={secret}"),
            6 => format!(r#"{{\"password\":\"{secret}\"}}"#),
            7 => format!("Creds {{ client_secret: \"{secret}\" }}"),
            8 => format!("AccountKey={secret};EndpointSuffix=x"),
            _ => format!("password={secret}"),
        };
        prop_assume!(!before.contains(&secret) && !after.contains(&secret));
        let value = format!("{before} {planted} {after}");
        let out = Redactor::default().redact_value(&value);
        prop_assert!(!out.contains(&secret), "{value:?} -> {out:?}");
    }

    #[test]
    fn ordinary_prose_is_borrowed_and_unchanged(value in prose()) {
        let out = Redactor::default().redact_value(&value);
        prop_assert!(matches!(out, Cow::Borrowed(s) if s == value), "{value:?} -> {out:?}");
    }

    #[test]
    fn ids_hashes_and_times_are_left_alone(
        uuid in "[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        trace in "[0-9a-f]{32}",
        span in "[0-9a-f]{16}",
        sha1 in "[0-9a-f]{40}",
        sha256 in "[0-9a-f]{64}",
        ts in (1970..2100u32, 1..13u32, 1..29u32, 0..24u32, 0..60u32, 0..1000u32, 0..15u32),
        // Until 2096: later, a 13-digit millisecond time starts like a Visa card.
        unix in 0..4_000_000_000u64,
        price in (0..100_000u32, 0..100u32),
        version in (0..20u32, 0..50u32, 0..100u32),
    ) {
        let (y, mo, d, h, mi, ms, off) = ts;
        let value = format!(
            "id={uuid} trace_id={trace} span_id={span} sha1 {sha1} sha256:{sha256} \
             at {y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{mi:02}.{ms:03}Z \
             or {y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00+{off:02}:30 \
             ts={unix} ms={unix}{ms:03} price ${}.{:02} v{}.{}.{}-rc.1",
            price.0, price.1, version.0, version.1, version.2,
        );
        let out = Redactor::default().redact_value(&value);
        prop_assert!(matches!(out, Cow::Borrowed(s) if s == value), "{value:?} -> {out:?}");
    }

    #[test]
    fn counts_under_sensitive_names_survive(
        word in prop_oneof![Just("token"), Just("tokens"), Just("password"), Just("secret"), Just("session")],
        shape in 0..6usize,
        n in prop_oneof![any::<u32>().prop_map(|n| n.to_string()), (0..10_000u32, 0..100u32).prop_map(|(a, b)| format!("{a}.{b}"))],
    ) {
        let key = match shape {
            0 => format!("{word}_used"),
            1 => format!("{word}_limit"),
            2 => format!("max_{word}"),
            3 => format!("num_{word}"),
            4 => format!("{word}_total"),
            _ => format!("{word}Remaining"),
        };
        let redactor = Redactor::default();
        prop_assert!(!redactor.is_sensitive_key(&key), "{key}");
        prop_assert_eq!(redactor.redact_field(&key, &n), n.as_str());
        let line = format!("usage {key}={n}, {key}: {n}; {{\"{key}\": {n}}}");
        prop_assert_eq!(redactor.redact_value(&line), line.as_str());
    }

    #[test]
    fn fragment_matcher_is_the_documented_list(
        parts in prop::collection::vec(
            prop_oneof![
                prop::sample::select(DEFAULT_FRAGMENTS.to_vec()).prop_flat_map(|f| {
                    (0..f.len(), 1..=f.len()).prop_map(move |(a, b)| f[a.min(b - 1)..b].to_owned())
                }),
                "[a-z]{1,3}",
            ],
            0..8,
        ),
    ) {
        let key = parts.concat();
        let listed = DEFAULT_FRAGMENTS.iter().any(|f| key.contains(f));
        prop_assert_eq!(has_default_fragment(key.as_bytes()), listed, "{}", key);
    }
}
