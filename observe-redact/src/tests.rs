//! Redaction, case by case and by property.

use super::*;
use proptest::prelude::*;

fn r(value: &str) -> String {
    Redactor::default().redact_value(value).into_owned()
}

#[test]
fn redactor_is_cheap_to_share() {
    fn check<T: Clone + std::fmt::Debug + Send + Sync>() {}
    check::<Redactor>();
    check::<RedactorBuilder>();
    let a = Redactor::default();
    let b = a.clone();
    assert!(Arc::ptr_eq(&a.inner, &b.inner));
}

#[test]
fn sensitive_keys() {
    let redactor = Redactor::default();
    for key in [
        "access_token",
        "client_secret",
        "X-Api-Key",
        "x_api_key",
        "apiKey",
        "API_KEY",
        "Authorization",
        "Set-Cookie",
        "sessionId",
        "db_password",
        "PRIVATE_KEY",
        "x-csrf-token",
        "X-XSRF-TOKEN",
        "passwd",
        "user.pwd",
        "aws credentials",
        "id_jwt",
        "bearer",
    ] {
        assert!(redactor.is_sensitive_key(key), "{key} should be sensitive");
    }
}

#[test]
fn ordinary_keys_are_not_sensitive() {
    let redactor = Redactor::default();
    for key in [
        "user_id",
        "route",
        "status",
        "method",
        "duration_ms",
        "path",
        "cache",
        "",
        "---",
    ] {
        assert!(
            !redactor.is_sensitive_key(key),
            "{key} should not be sensitive"
        );
    }
}

#[test]
fn allow_key_exempts_exact_normalised_keys_only() {
    let redactor = Redactor::builder().allow_key("token_count").build();
    assert!(!redactor.is_sensitive_key("token_count"));
    assert!(!redactor.is_sensitive_key("tokenCount"));
    assert!(redactor.is_sensitive_key("access_token"));
    assert!(redactor.is_sensitive_key("token_count_secret"));
    assert_eq!(redactor.redact_value("token_count=5"), "token_count=5");
    assert_eq!(r("token_count=5"), "token_count=[REDACTED]");
}

#[test]
fn deny_key_adds_fragments() {
    // `ssn` is a default since personal data names are: `badge` is not.
    let redactor = Redactor::builder().deny_key("BADGE").deny_key("_").build();
    assert!(redactor.is_sensitive_key("user_badge"));
    assert!(
        !redactor.is_sensitive_key("user_id"),
        "empty fragment ignored"
    );
    assert!(!Redactor::default().is_sensitive_key("user_badge"));
    assert_eq!(redactor.redact_value("badge=123-45"), "badge=[REDACTED]");
    assert_eq!(r("badge=123-45"), "badge=123-45");
}

#[test]
fn long_and_unicode_keys() {
    let redactor = Redactor::default();
    let long = format!("{}_password", "x".repeat(500));
    assert!(redactor.is_sensitive_key(&long));
    assert!(!redactor.is_sensitive_key(&"é".repeat(200)));
    assert!(redactor.is_sensitive_key("PASSWORT_Ü_password"));
    assert!(
        Redactor::builder()
            .deny_key("Kennwort")
            .build()
            .is_sensitive_key("MEIN_KENNWORT")
    );
}

#[test]
fn redact_field_replaces_sensitive_fields_whole() {
    let redactor = Redactor::default();
    assert_eq!(redactor.redact_field("access_token", "abc"), REDACTED);
    assert_eq!(
        redactor.redact_field("Set-Cookie", "sid=1; Path=/"),
        REDACTED
    );
    assert_eq!(redactor.redact_field("user_id", "42"), "42");
    assert_eq!(
        redactor.redact_field("url", "https://u:p@example.com/"),
        "https://[REDACTED]@example.com/"
    );
    assert!(matches!(
        redactor.redact_field("route", "/users"),
        Cow::Borrowed(_)
    ));
}

#[test]
fn bearer_and_basic_credentials() {
    assert_eq!(r("Bearer abc.def"), "Bearer [REDACTED]");
    assert_eq!(
        r("auth failed for bearer abc.def now"),
        "auth failed for bearer [REDACTED] now"
    );
    assert_eq!(r("BASIC dXNlcjpwYXNz"), "BASIC [REDACTED]");
    assert_eq!(
        r("Authorization: Bearer abc"),
        "Authorization: Bearer [REDACTED]"
    );
    assert_eq!(
        r(r#"{"authorization":"Bearer abc"}"#),
        r#"{"authorization":"Bearer [REDACTED]"}"#
    );
    assert_eq!(
        r("header \"Bearer xyz\" sent"),
        "header \"Bearer [REDACTED]\" sent"
    );
    assert_eq!(
        r("xBearer a Bearer b"),
        "xBearer [REDACTED] Bearer [REDACTED]"
    );
    // No token, or no whitespace after the scheme: nothing to hide.
    for clean in ["Bearer", "Bearer   ", "Basically fine", "bearers only"] {
        assert_eq!(r(clean), clean);
    }
}

#[test]
fn jwts() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    assert_eq!(r(&format!("got {jwt} from idp")), "got [REDACTED] from idp");
    assert_eq!(r(&format!("id={jwt}")), "id=[REDACTED]");
    assert_eq!(
        r("jwe eyJhbGci.abcd.efgh.ijkl.mnop end"),
        "jwe [REDACTED] end"
    );
    for clean in [
        "eyJhbGciOi",
        "eyJ.abcd.efgh",
        "eyJabc.de.fghi",
        "xeyJhbGc.abcd.efgh",
        "eyJhbGc.abcd",
    ] {
        assert_eq!(r(clean), clean);
    }
}

#[test]
fn url_userinfo() {
    assert_eq!(
        r("https://user:pass@example.com/x"),
        "https://[REDACTED]@example.com/x"
    );
    assert_eq!(
        r("connect postgres://app:s3cr3t@db.internal:5432/shop failed"),
        "connect postgres://[REDACTED]@db.internal:5432/shop failed"
    );
    assert_eq!(
        r("ssh://git@example.com/repo"),
        "ssh://[REDACTED]@example.com/repo"
    );
    assert_eq!(r("https://u:p@ss@host/"), "https://[REDACTED]@host/");
    assert_eq!(
        r("a://https://u:pw@host.io/"),
        "a://https://[REDACTED]@host.io/"
    );
    for clean in [
        "https://example.com/x",
        "https://example.com/a@b",
        "https://@example.com/",
        "http://auth-service:8080/health",
        "http://session.example.com:443",
    ] {
        assert_eq!(r(clean), clean);
    }
}

#[test]
fn sensitive_pairs_in_text() {
    assert_eq!(
        r("GET /cb?token=abc&page=2"),
        "GET /cb?token=[REDACTED]&page=2"
    );
    assert_eq!(
        r("password=hunter2 user=bob"),
        "password=[REDACTED] user=bob"
    );
    assert_eq!(r("X-Api-Key: abc123, next"), "X-Api-Key: [REDACTED], next");
    assert_eq!(r("client_secret = xyz;"), "client_secret = [REDACTED];");
    assert_eq!(
        r(r#"{"password": "hunter 2", "user": "bob"}"#),
        r#"{"password": "[REDACTED]", "user": "bob"}"#
    );
    assert_eq!(
        r(r#"{"token":"a\"b","n":1}"#),
        r#"{"token":"[REDACTED]","n":1}"#
    );
    assert_eq!(
        r("form user[password]=x&a=1"),
        "form user[password]=[REDACTED]&a=1"
    );
    assert_eq!(
        r("Set-Cookie: sid=abc; Path=/"),
        "Set-Cookie: [REDACTED]; Path=/"
    );
    assert_eq!(r("password=a=b=c"), "password=[REDACTED]");
    // A pair hidden in another's value, its own value reaching further.
    assert_eq!(r("password=api_key: abc"), "password=[REDACTED] [REDACTED]");
    assert_eq!(r("pwd=token:\"a b\" c"), "pwd=[REDACTED]\"[REDACTED]\" c");
    for clean in [
        "page=2&sort=asc",
        "status: ok",
        "route=/users/{id} method=GET",
        "token=&page=2",
        "Error: timeout",
    ] {
        assert_eq!(r(clean), clean);
    }
}

#[test]
fn emails() {
    assert_eq!(
        r("Please contact jane.doe+shop@mail.example.co.uk today."),
        "Please contact [REDACTED] today."
    );
    assert_eq!(r("mailto:bob@example.com"), "mailto:[REDACTED]");
    for clean in ["a@b", "user@localhost", "@handle", "x@host.c", "x@host.c0m"] {
        assert_eq!(r(clean), clean);
    }
    let off = Redactor::builder().emails(false).build();
    assert_eq!(
        off.redact_value("mail bob@example.com"),
        "mail bob@example.com"
    );
}

#[test]
fn card_numbers() {
    for card in [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "378282246310005",
    ] {
        assert_eq!(
            r(&format!("card {card} ok")),
            "card [REDACTED] ok",
            "{card}"
        );
    }
    assert_eq!(
        r("on 2024-01-15 4111 1111 1111 1111"),
        "on 2024-01-15 [REDACTED]"
    );
    for clean in [
        "order 1234567890123",
        "ts 1700000000123",
        "4111 1111  1111 1111",
        "id 41111111111111111111111",
        "n=4111 1111 111",
    ] {
        assert_eq!(r(clean), clean);
    }
    let off = Redactor::builder().card_numbers(false).build();
    assert_eq!(
        off.redact_value("4111 1111 1111 1111"),
        "4111 1111 1111 1111"
    );
}

#[test]
fn control_characters_cannot_forge_lines() {
    assert_eq!(r("a\r\nINFO forged"), "a  INFO forged");
    assert_eq!(r("tab\tkept"), "tab\tkept");
    assert_eq!(r("bell\u{7}\u{1b}[31m"), "bell  [31m");
    assert_eq!(r("ls\u{2028}ps\u{2029}nel\u{85}é"), "ls ps nel é");
    assert_eq!(r("password=x\nINFO y"), "password=[REDACTED] INFO y");
}

#[test]
fn clean_values_are_borrowed() {
    for clean in [
        "",
        "order shipped to warehouse",
        "GET /users/42 200 in 3ms",
        "naïve café ☕ résumé",
        "ratio 3:2, x=1",
    ] {
        assert!(
            matches!(r_cow(clean), Cow::Borrowed(s) if s == clean),
            "{clean}"
        );
    }
}

fn r_cow(value: &str) -> Cow<'_, str> {
    Redactor::default().redact_value(value)
}

#[test]
fn pathological_inputs_stay_linear() {
    let redactor = Redactor::default();
    for unit in [
        "token=",
        "token:\"",
        "Bearer ",
        "bearer",
        "eyJa.",
        "eyJabcd.",
        "a@",
        "a@b.",
        "1 ",
        "1-",
        "://",
        "://a@",
        "\\",
        "password=\"\\",
    ] {
        let input = unit.repeat(200_000 / unit.len());
        let out = redactor.redact_value(&input);
        assert!(!out.contains('\n'));
    }
    let digits = "1".repeat(200_000);
    assert_eq!(redactor.redact_value(&digits), digits);
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "(?s).{0,8}",
            "[a-z0-9 ]{0,8}",
            "[0-9 -]{0,20}",
            Just("Bearer ".to_owned()),
            Just("password=".to_owned()),
            Just("\"token\": \"".to_owned()),
            Just("://".to_owned()),
            Just("@".to_owned()),
            Just("eyJ".to_owned()),
            Just(".".to_owned()),
            Just("\\".to_owned()),
            Just("\r\n".to_owned()),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn config() -> ProptestConfig {
    // No regression files: this suite must not write into the tree.
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(256)
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn never_panics_and_never_breaks_lines(value in text()) {
        let out = Redactor::default().redact_value(&value);
        prop_assert!(!out.contains('\n') && !out.contains('\r'), "{out:?}");
    }

    #[test]
    fn arbitrary_strings_never_panic(value in any::<String>()) {
        let redactor = Redactor::default();
        let out = redactor.redact_value(&value);
        prop_assert!(!out.contains('\n') && !out.contains('\r'));
        let _ = redactor.is_sensitive_key(&value);
    }

    #[test]
    fn planted_secrets_never_survive(
        prefix in text(),
        suffix in text(),
        secret in "[A-Za-z0-9]{8,32}",
        form in 0..6usize,
    ) {
        let planted = match form {
            0 => format!("password={secret}"),
            1 => format!("Bearer {secret}"),
            2 => format!("api_key: {secret}"),
            3 => format!("?access_token={secret}&x=1"),
            4 => format!("https://user:{secret}@example.com/"),
            _ => format!("\"client_secret\":\"{secret}\""),
        };
        prop_assume!(!prefix.contains(&secret) && !suffix.contains(&secret));
        let value = format!("{prefix}{planted}{suffix}");
        let out = Redactor::default().redact_value(&value);
        prop_assert!(!out.contains(&secret), "{value:?} -> {out:?}");
    }

    #[test]
    fn clean_text_is_borrowed_and_unchanged(value in "[A-Za-z ,;!?'()-]{0,200}") {
        let lower = value.to_ascii_lowercase();
        prop_assume!(!lower.contains("bearer") && !lower.contains("basic"));
        let out = Redactor::default().redact_value(&value);
        prop_assert!(matches!(out, Cow::Borrowed(s) if s == value));
    }
}

#[test]
fn a_remembered_name_answers_for_its_own_redactor_only() {
    // The same names, two redactors that disagree on one, on one thread:
    // each answer is the redactor's own, however the calls interleave.
    let plain = Redactor::default();
    let strict = Redactor::builder().deny_key("plan").build();
    for _ in 0..3 {
        assert_eq!(plain.redact_field("user.plan", "pro"), "pro");
        assert_eq!(strict.redact_field("user.plan", "pro"), "[REDACTED]");
        assert!(!plain.is_sensitive_key("user.plan"));
        assert!(strict.is_sensitive_key("user.plan"));
    }
    // Names that share a memo slot, and one too long to be remembered,
    // classify as they would alone.
    let names = ["password", "passwore", "pa55word", "user_id", "user_pass"];
    for _ in 0..2 {
        for name in names {
            let fresh = Redactor::default();
            assert_eq!(
                plain.is_sensitive_key(name),
                fresh.is_sensitive_key(name),
                "{name}"
            );
        }
    }
    let long = format!("{}_password", "x".repeat(60));
    assert!(plain.is_sensitive_key(&long));
    assert!(plain.is_sensitive_key(&long));
    assert!(plain.is_sensitive_key("password"));
    assert!(!plain.is_sensitive_key("passwore"));
    assert!(plain.is_sensitive_key("user_pass"));
    assert!(!plain.is_sensitive_key("user_id"));
}
