//! Redaction of personal data, by field name and by value shape, and of
//! counts under sensitive names, case by case.

use super::*;

fn r(value: &str) -> String {
    Redactor::default().redact_value(value).into_owned()
}

fn assert_clean(values: &[&str]) {
    let redactor = Redactor::default();
    for &clean in values {
        let out = redactor.redact_value(clean);
        assert!(
            matches!(out, Cow::Borrowed(s) if s == clean),
            "{clean:?} -> {out:?}"
        );
    }
}

#[test]
fn personal_data_names() {
    let redactor = Redactor::default();
    for key in [
        "phone",
        "phoneNumber",
        "mobile",
        "user.mobile",
        "mobile_no",
        "telephone",
        "ssn",
        "user_SSN",
        "social_security_number",
        "address",
        "home_address",
        "shippingAddress",
        "billing.address.street",
        "postal_address",
        "date_of_birth",
        "birthDate",
        "dob",
        "iban",
        "payee_IBAN",
        "passport_number",
        "tax_id",
        "taxpayerId",
        "national_id",
        "card_cvv",
    ] {
        assert!(redactor.is_sensitive_key(key), "{key} should be sensitive");
        assert_eq!(redactor.redact_field(key, "anything"), REDACTED, "{key}");
    }
    for key in [
        "ip_address",
        "client.address",
        "server.address",
        "network.peer.address",
        "remote_addr",
        "mac_address",
        "email_address",
        "IPAddress",
        "is_mobile",
        "class_name",
        "business_name",
        "syntax_id",
        "caribbean",
        "dobby",
        "mobile_os",
    ] {
        assert!(
            !redactor.is_sensitive_key(key),
            "{key} should not be sensitive"
        );
    }
    assert_eq!(
        r("user home_address=\"1 Main St\" ok"),
        "user home_address=\"[REDACTED]\" ok"
    );
}

#[test]
fn counts_under_sensitive_names_are_kept() {
    let redactor = Redactor::default();
    for key in [
        "tokens_used",
        "token_limit",
        "max_tokens",
        "maxTokens",
        "num_tokens",
        "total_tokens",
        "tokens_total",
        "tokens_remaining",
        "password_length",
        "min_password_len",
        "session_size",
        "token_quota",
    ] {
        assert!(!redactor.is_sensitive_key(key), "{key}");
        for n in ["1532", "4096", "0", "-1", "0.75"] {
            assert_eq!(redactor.redact_field(key, n), n, "{key}={n}");
            let pair = format!("{key}={n} ok");
            assert_eq!(r(&pair), pair);
            let json = format!("{{\"{key}\": {n}}}");
            assert_eq!(r(&json), json);
        }
        assert_eq!(redactor.redact_field(key, "abc"), REDACTED, "{key}");
        assert_eq!(redactor.redact_field(key, "12abc"), REDACTED, "{key}");
        assert_eq!(r(&format!("{key}=abc")), format!("{key}=[REDACTED]"));
    }
    assert_eq!(
        r("usage tokens_used = 1532, token_limit = 4096"),
        "usage tokens_used = 1532, token_limit = 4096"
    );
    // Not a count: a secret, also when it is all digits.
    assert_eq!(redactor.redact_field("password", "1234"), REDACTED);
    assert_eq!(r("password=1234"), "password=[REDACTED]");
    assert_eq!(r("pin_token=1234"), "pin_token=[REDACTED]");
}

#[test]
fn phone_numbers() {
    for phone in [
        "+14155552671",
        "+1 415 555 2671",
        "+1-415-555-2671",
        "+1 (415) 555-2671",
        "+44 20 7946 0958",
        "+4915112345678",
        "+33 1 23 45 67 89",
    ] {
        assert_eq!(
            r(&format!("call {phone} now")),
            "call [REDACTED] now",
            "{phone}"
        );
        assert_eq!(r(&format!("tel:{phone}")), "tel:[REDACTED]", "{phone}");
    }
    assert_clean(&[
        "2024-01-15T10:00:00+01:00",
        "a+1234567890",
        "+0123456789",
        "+1234567",
        "+1234567890123456",
        "1+2=3",
        "x+y",
    ]);
    let off = Redactor::builder().phone_numbers(false).build();
    assert_eq!(off.redact_value("+14155552671"), "+14155552671");
}

#[test]
fn social_security_numbers() {
    assert_eq!(r("ssn 123-45-6789 on file"), "ssn [REDACTED] on file");
    assert_eq!(r("(078-05-1120)"), "([REDACTED])");
    assert_clean(&[
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "123-00-4567",
        "123-45-0000",
        "1123-45-6789",
        "123-45-67890",
        "1-123-45-6789",
        "123-45-6789-1",
        "2024-01-15",
    ]);
    let off = Redactor::builder().ssns(false).build();
    assert_eq!(off.redact_value("123-45-6789"), "123-45-6789");
}

#[test]
fn ibans() {
    for iban in [
        "DE89370400440532013000",
        "DE89 3704 0044 0532 0130 00",
        "GB29NWBK60161331926819",
        "GB29 NWBK 6016 1331 9268 19",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
        "NO9386011117947",
        "MT84MALT011000012345MTLCAST001S",
    ] {
        assert_eq!(
            r(&format!("pay to {iban}.")),
            "pay to [REDACTED].",
            "{iban}"
        );
    }
    assert_clean(&[
        // Wrong check digits, length, or country.
        "DE88370400440532013000",
        "DE8937040044053201300",
        "DE893704004405320130001",
        "ZZ89370400440532013000",
        "XDE89370400440532013000",
        "de89370400440532013000",
    ]);
    let off = Redactor::builder().ibans(false).build();
    assert_eq!(
        off.redact_value("DE89370400440532013000"),
        "DE89370400440532013000"
    );
}

#[test]
fn ordinary_shapes_are_left_alone() {
    assert_clean(&[
        "request 550e8400-e29b-41d4-a716-446655440000 done",
        "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
        "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "at 2024-01-15T10:00:00.123Z and 2024-01-15T10:00:00+05:30",
        "ts=1700000000 ms=1700000000123 ns=1700000000123456789",
        "total $1,299.00 or 12.99 EUR",
        "observe v0.1.0-rc.1 on rustc 1.89.0",
        "GET /api/v1/orders/8842?page=2&sort=asc 200",
    ]);
}

#[test]
fn card_numbers_need_a_card_shape() {
    assert_clean(&[
        // A Unix timestamp in ms passing Luhn; digits inside a hex id.
        "1700000000004",
        "2100000000006",
        "3900000000008",
        "deadbeef4111111111111111cafe",
        // Groups that are no card's.
        "41-11111111-111111",
        "550e8400-e29b-41d4-4111-111111111111",
    ]);
    assert_eq!(r("card 3782 822463 10005 ok"), "card [REDACTED] ok");
}
