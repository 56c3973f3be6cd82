//! Who may write: the bearer token, compared in constant time.

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;
/// The longest token accepted.
pub const MAX_TOKEN_LEN: usize = 256;

/// A configured token.
#[derive(Clone)]
pub(super) struct Token(Box<[u8]>);

impl Token {
    /// `None` unless 16 to 256 visible ASCII characters.
    pub(super) fn new(token: &str) -> Option<Self> {
        let ok = (MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token.len())
            && token.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(token.as_bytes().into()))
    }

    /// Whether `given` is the token; the time taken depends only on the
    /// lengths, not on where the bytes differ.
    fn matches(&self, given: &[u8]) -> bool {
        let mut difference = u8::from(given.len() != self.0.len());
        for (i, expected) in self.0.iter().enumerate() {
            let byte = given.get(i).copied().unwrap_or(0);
            difference |= byte ^ expected;
        }
        std::hint::black_box(difference) == 0
    }
}

/// Whether a write may proceed: who it is, for the audit line, or why not.
pub(super) fn check(
    token: Option<&Token>,
    authorization: Option<&[u8]>,
) -> Result<&'static str, &'static str> {
    let Some(token) = token else {
        // Admin::new allows no token only on a loopback listener.
        return Ok("no token (loopback listener)");
    };
    let Some(header) = authorization else {
        return Err("no Authorization header: this listener has a token");
    };
    let given = header
        .strip_prefix(b"Bearer ")
        .or_else(|| header.strip_prefix(b"bearer "))
        .ok_or("the Authorization scheme is not Bearer")?;
    if token.matches(given) {
        Ok("admin token")
    } else {
        Err("the token does not match")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_writes() {
        let token = Token::new("0123456789abcdef-secret").unwrap();
        let check = |header: Option<&[u8]>| check(Some(&token), header);
        assert_eq!(
            check(Some(b"Bearer 0123456789abcdef-secret")),
            Ok("admin token")
        );
        assert_eq!(
            check(Some(b"bearer 0123456789abcdef-secret")),
            Ok("admin token")
        );
        assert!(check(Some(b"Bearer 0123456789abcdef-secreT")).is_err());
        assert!(check(Some(b"Bearer 0123456789abcdef-secret2")).is_err());
        assert!(check(Some(b"Bearer 0123456789abcdef")).is_err());
        assert!(check(Some(b"Basic 0123456789abcdef-secret")).is_err());
        assert!(check(Some(b"Bearer ")).is_err());
        assert!(check(None).is_err());
        assert_eq!(super::check(None, None), Ok("no token (loopback listener)"));
    }

    #[test]
    fn tokens_are_long_visible_ascii() {
        assert!(Token::new("short").is_none());
        assert!(Token::new("has a space in it, long enough").is_none());
        assert!(Token::new(&"x".repeat(MAX_TOKEN_LEN + 1)).is_none());
        assert!(Token::new(&"x".repeat(MIN_TOKEN_LEN)).is_some());
    }
}
