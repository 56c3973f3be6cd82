//! Redaction of token shapes, PEM blocks, OAuth parameters, prose, personal
//! data names and values, case by case.

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

/// Realistic tokens of each shape (made up, of the published formats).
pub(super) const TOKENS: [&str; 27] = [
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAY34FZKBOKMUTVV7A",
    "AIzaSyA1bCdEfGhIjKlMnOpQrStUvWxYz012345",
    "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "gho_16C7e42F292c6912E7710c838347Ae178B4a",
    "ghu_16C7e42F292c6912E7710c838347Ae178B4a",
    "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
    "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498",
    "github_pat_11ABCDEFG0123456789abc_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456",
    "glpat-xYz12AbC34dEf56GhI78j",
    "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "xoxp-1234567890-1234567890-1234567890-abcdef0123456789abcdef0123456789",
    "xapp-1-A0123456789-1234567890123-abcdef0123456789",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "rk_test_51H8aBcDeFgHiJkLmNoPqRsTuVw",
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "SK2a4e7a9bc1d3e5f7a9b1c3d5e7f9a1b3",
    "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",
    "npm_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmdoLWlqa2wtbW5vcC1xcnN0LXV2d3h5ejAxMjM0NQACKlsz",
    "sk-aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcdEFGH",
    "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_aBcDeFgHiJkLmNoP",
    "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-aBcDeFgHiJkL",
    "GOCSPX-AbCdEfGhIjKlMnOpQrStUvWx1234",
    "ya29.a0AfH6SMBx1234567890abcdefGHIJKLmnop",
    "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
    "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
];

#[test]
fn token_shapes() {
    for token in TOKENS {
        assert_eq!(r(token), REDACTED, "{token}");
        assert_eq!(
            r(&format!("using {token} now")),
            "using [REDACTED] now",
            "{token}"
        );
        assert_eq!(r(&format!("x={token}&y=2")), "x=[REDACTED]&y=2", "{token}");
        assert_eq!(
            r(&format!("{{\"k\":\"{token}\"}}")),
            "{\"k\":\"[REDACTED]\"}",
            "{token}"
        );
        assert_eq!(
            r(&format!("Config {{ key: \"{token}\" }}")),
            "Config { key: \"[REDACTED]\" }",
            "{token}"
        );
    }
}

#[test]
fn every_prefix_family() {
    for token in [
        "shpat_0123456789abcdef0123456789abcdef",
        "shpss_0123456789abcdef0123456789abcdef",
        "doo_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "gldt-AbCdEfGhIjKlMnOpQrSt",
        "glrt-AbCdEfGhIjKlMnOpQrSt",
        "xoxe-1-AbCdEfGhIjKlMnOpQrSt",
        "xoxs-1234567890-AbCdEf",
        "rk_live_51H8aBcDeFgHiJkLmNoPqRsTuVw",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "AGE-SECRET-KEY-1QQPQZZ9QPGL7EXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLE0",
        "A3TXIOSFODNN7EXAMPLE",
        "ABIAIOSFODNN7EXAMPLE",
        "ACCAIOSFODNN7EXAMPLE",
        "pypi-AgENdGVzdC5weXBpLm9yZwIkYWJjZGVmZ2gtaWprbC1tbm9wLXFyc3QtdXZ3eHl6MDEyMzQ1AAIqWzM",
    ] {
        assert_eq!(r(&format!("t {token} t")), "t [REDACTED] t", "{token}");
    }
}

#[test]
fn near_misses_of_token_shapes_are_left_alone() {
    assert_clean(&[
        // Publishable Stripe keys are public; `AC` Twilio sids are ids.
        "pk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "AC2a4e7a9bc1d3e5f7a9b1c3d5e7f9a1b3",
        // Too short, glued to a word, or not the alphabet.
        "ghp_short",
        "xghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        "AKIAIOSFODNN7EXAMPL",
        "AKIAIOSFODNN7EXAMPLEX",
        "ASIAPACIFIC",
        "the sk-learn-pipeline-runner-for-images",
        "sk-short",
        "glpat-short",
        "SG.abc.def",
        "npm_install",
        "pypi-package-name-that-is-long-enough-to-be-anything-at-all-really",
        "xoxb-",
        "hooks.slack.com/help",
    ]);
}

#[test]
fn slack_webhooks_keep_the_host() {
    assert_eq!(
        r(
            "POST https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX failed"
        ),
        "POST https://hooks.slack.com/services/[REDACTED] failed"
    );
}

const PEM_BODY: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNb";

#[test]
fn pem_private_keys() {
    for label in [
        "PRIVATE KEY",
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
    ] {
        let pem = format!("-----BEGIN {label}-----\n{PEM_BODY}\n-----END {label}-----");
        assert_eq!(
            r(&format!("key {pem} loaded")),
            "key [REDACTED] loaded",
            "{label}"
        );
        let escaped = pem.replace('\n', "\\n");
        assert_eq!(
            r(&format!("{{\"private_key\":\"{escaped}\\n\",\"n\":1}}")),
            "{\"private_key\":\"[REDACTED]\",\"n\":1}",
            "{label}"
        );
        assert_eq!(
            r(&format!("{{\"pem\":\"{escaped}\\n\",\"n\":1}}")),
            "{\"pem\":\"[REDACTED]\\n\",\"n\":1}",
            "{label}"
        );
        // Cut short: everything from BEGIN on.
        let cut = &pem[..60];
        assert_eq!(r(&format!("key {cut}")), "key [REDACTED]", "{label}");
    }
    assert_clean(&[
        "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----\\nMIIB\\n-----END PUBLIC KEY-----",
        "-----BEGIN",
        "----- separator -----",
    ]);
}

#[test]
fn oauth_parameters() {
    assert_eq!(
        r("GET /callback?code=4/0AX4XfWh-abc&state=xyz"),
        "GET /callback?code=[REDACTED]&state=xyz"
    );
    assert_eq!(
        r("code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj"),
        "code=[REDACTED]&state=af0ifjsldkj"
    );
    assert_eq!(
        r("https://app/cb#access_token=abc&id_token=def&token_type=bearer"),
        "https://app/cb#access_token=[REDACTED]&id_token=[REDACTED]&token_type=[REDACTED]"
    );
    assert_eq!(
        r("grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA&client_secret=s3cr3t"),
        "grant_type=refresh_token&refresh_token=[REDACTED]&client_secret=[REDACTED]"
    );
    assert_eq!(
        r("code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk&x=1"),
        "code_verifier=[REDACTED]&x=1"
    );
    // The word `code` in prose, or a status code, is not a parameter.
    assert_clean(&[
        "exit code=1",
        "error code: 500",
        "the code is ready for review",
        "status_code=200",
        "zip_code=12345",
    ]);
}

#[test]
fn azure_connection_strings_and_signatures() {
    assert_eq!(
        r(
            "DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net"
        ),
        "DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=[REDACTED];EndpointSuffix=core.windows.net"
    );
    assert_eq!(
        r(
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=AbC123+dEf/gHi=;EntityPath=q"
        ),
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=[REDACTED];SharedAccessKey=[REDACTED];EntityPath=q"
    );
    assert_eq!(
        r(
            "GET https://shop.blob.core.windows.net/c/b.png?sv=2022-11-02&sp=r&sig=AbC%2Bdef%3D&se=2024"
        ),
        "GET https://shop.blob.core.windows.net/c/b.png?sv=2022-11-02&sp=r&sig=[REDACTED]&se=2024"
    );
}

#[test]
fn prose_keywords() {
    assert_eq!(r("the password is hunter2"), "the password is [REDACTED]");
    assert_eq!(r("Password is 'swordfish'."), "Password is '[REDACTED]'.");
    assert_eq!(r("your passwd is: abc123!"), "your passwd is: [REDACTED]");
    assert_eq!(r("new secret is swordfish"), "new secret is [REDACTED]");
    assert_eq!(r("secret: abc"), "secret: [REDACTED]");
    assert_eq!(
        r("access token is 2YotnFZFEjr1zCsicMWpAA"),
        "access token is [REDACTED]"
    );
    assert_eq!(
        r("API key: abc123 (rotated)"),
        "API key: [REDACTED] (rotated)"
    );
    assert_eq!(r("api key = abc123"), "api key = [REDACTED]");
    assert_eq!(
        r("the AWS secret key is wJalrXUtnFEMI/K7MDENG"),
        "the AWS secret key is [REDACTED]"
    );
    assert_eq!(
        r("private key: 0x4c0883a6910395b1"),
        "private key: [REDACTED]"
    );
    assert_clean(&[
        "the token is invalid",
        "password is required.",
        "the token is expired, refreshing",
        "password reset requested for user 42",
        "token refreshed in 12ms",
        "invalid token",
        "the secret is not set",
        "tokens issued: 3",
        "a key is missing",
        "passwords are hashed",
        "Password is too short",
    ]);
}

#[test]
fn escaped_json_inside_a_string() {
    assert_eq!(
        r(r#"{"msg":"request body {\"password\":\"hunter2\",\"user\":\"bob\"}"}"#),
        r#"{"msg":"request body {\"password\":\"[REDACTED]\",\"user\":\"bob\"}"}"#
    );
    assert_eq!(
        r(r#"body: "{\"api_key\": \"abc\\\"def\"}""#),
        r#"body: "{\"api_key\": \"[REDACTED]\"}""#
    );
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

#[test]
fn default_fragments_are_the_documented_ones() {
    use super::keys::{DEFAULT_FRAGMENTS, has_default_fragment};
    for fragment in DEFAULT_FRAGMENTS {
        assert!(has_default_fragment(fragment.as_bytes()), "{fragment}");
        assert!(
            Redactor::default().is_sensitive_key(&format!("x_{fragment}_y")),
            "{fragment}"
        );
    }
}

#[test]
fn pathological_inputs_of_the_new_checks_stay_linear() {
    let redactor = Redactor::default();
    let started = std::time::Instant::now();
    for unit in [
        "sk-",
        "sk-a",
        "ghp_",
        "ghp_a",
        "glpat-",
        "xoxb-a-",
        "SG.",
        "SGa.",
        "AKIA",
        "AIza",
        "SK",
        "pypi-AgEIcHlwaS5vcmc",
        "hooks.slack.com/services/",
        "-----BEGIN PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----x-----END ",
        "-----",
        "+1 ",
        "+1-",
        "+1 (2",
        "123-45-",
        "DE89 ",
        "DE89",
        "password is ",
        "the token is \"",
        "api key: ",
        "secret key = \\\"",
        "\\\"",
        "\\\\\\\"",
        "tokens_used=",
        "?code=",
        "a_b_c_d_e_f_g_h_",
    ] {
        let input = unit.repeat(200_000 / unit.len());
        let out = redactor.redact_value(&input);
        assert!(!out.contains('\n'), "{unit}");
    }
    // Linear passes over 6 MB take well under a second even unoptimised;
    // a quadratic one would take minutes.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}
