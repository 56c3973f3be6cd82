//! Redaction of token shapes, PEM blocks, OAuth and Azure parameters,
//! prose and escaped JSON, case by case.

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
const TOKENS: [&str; 27] = [
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

/// Percent-encoded values in query strings and form bodies are matched
/// decoded, and replaced whole as they stand; clean encoded values stay.
#[test]
fn encoded_query_and_form_values() {
    assert_eq!(
        r("GET /unsubscribe?email=someone%40example.org&list=news"),
        "GET /unsubscribe?email=[REDACTED]&list=news"
    );
    assert_eq!(
        r("POST /login body q=Bearer%20abc.def&x=1"),
        "POST /login body q=[REDACTED]&x=1"
    );
    assert_eq!(r("to=alice%2Bnews%40example.com"), "to=[REDACTED]");
    assert_eq!(r("card=4111+1111+1111+1111"), "card=[REDACTED]");
    assert_clean(&[
        "GET /search?q=red+shoes&page=2&sort=price%20asc&lang=en-GB",
        "path=%2Fapi%2Fv1%2Forders&status=200",
        "name=caf%C3%A9&tz=%2B01%3A00",
        "bad=%zz%4&ok=1",
        "q=c%2B%2B+tutorial",
    ]);
}

/// `pass`, `pwd`, `passwd` and `passphrase` name passwords in queries
/// and `key=value` text; words that only contain `pass` do not.
#[test]
fn short_password_keys() {
    for (input, expected) in [
        (
            "/login?user=bob&pass=hunter2",
            "/login?user=bob&pass=[REDACTED]",
        ),
        (
            "/login?user=bob&pwd=hunter2",
            "/login?user=bob&pwd=[REDACTED]",
        ),
        ("db.pass: s3cr3t", "db.pass: [REDACTED]"),
        ("user_pass=s3cr3t", "user_pass=[REDACTED]"),
        ("passwd=s3cr3t", "passwd=[REDACTED]"),
        ("passphrase=correct horse", "passphrase=[REDACTED] horse"),
    ] {
        assert_eq!(r(input), expected, "{input}");
    }
    assert!(Redactor::default().is_sensitive_key("pass"));
    assert!(Redactor::default().is_sensitive_key("smtp.pass"));
    assert_clean(&[
        "passenger=3",
        "compass=N",
        "bypass=true",
        "pass_gate=B12",
        "passes=3",
    ]);
}

/// An AWS secret access key in prose is caught when an access key id or
/// the word `secret` stands on the same line; 40-character digests are not
/// secrets anywhere.
#[test]
fn aws_secret_access_keys_in_prose() {
    assert_eq!(
        r("aws key AKIAIOSFODNN7EXAMPLE and secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "aws key [REDACTED] and secret [REDACTED]"
    );
    assert_eq!(
        r("the Secret is wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, keep it"),
        "the Secret is [REDACTED], keep it"
    );
    assert_eq!(
        r("AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "[REDACTED] / [REDACTED]"
    );
    assert_clean(&[
        // No context on the line.
        "deployed wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY to eu",
        // Commit hashes, with context or without.
        "commit 3f786850e387550fdab836ed7e6dc881de23001b",
        "secret rotation at commit 3f786850e387550fdab836ed7e6dc881de23001b",
        "secret rotation at commit 3F786850E387550FDAB836ED7E6DC881DE23001B",
    ]);
    // Context on another line (the line break itself becomes a space).
    assert_eq!(
        r("rotated the secret\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "rotated the secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    );
}
