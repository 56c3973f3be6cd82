//! Field names: which are sensitive, and which only name a count.

use super::Settings;

/// Keys normalised into a stack buffer up to this many bytes; longer ones
/// (rare) fall back to a heap string.
const KEY_BUF: usize = 128;

/// What a field name says about its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyClass {
    /// Nothing: the value is scanned like any text.
    Plain,
    /// A secret or personal data: the value is replaced whole.
    Sensitive,
    /// A sensitive word in a name that counts or limits something
    /// (`tokens_used`, `max_password_length`): a number is kept, anything
    /// else is replaced whole.
    Count,
}

/// Names up to this long are remembered (see [`classify`]).
const MEMO_KEY_MAX: usize = 40;
/// Entries in a thread's memo.
const MEMO_ENTRIES: usize = 64;

/// One remembered classification: the redactor it was made for (its
/// settings' id, never reused), the whole name, and the class.
#[derive(Clone, Copy)]
struct Memo {
    settings: u64,
    len: u8,
    key: [u8; MEMO_KEY_MAX],
    class: KeyClass,
}

impl Memo {
    const EMPTY: Memo = Memo {
        settings: 0,
        len: 0,
        key: [0; MEMO_KEY_MAX],
        class: KeyClass::Plain,
    };
}

thread_local! {
    /// This thread's recent classifications, direct-mapped by a cheap hash
    /// of the name: the same few names come back line after line (a
    /// callsite's fields), and classifying one costs several hundred
    /// instructions where a hit costs a few dozen.
    static MEMOS: std::cell::RefCell<[Memo; MEMO_ENTRIES]> =
        const { std::cell::RefCell::new([Memo::EMPTY; MEMO_ENTRIES]) };
}

/// Classifies a field name; see [`Redactor::is_sensitive_key`](super::Redactor::is_sensitive_key).
/// Remembered per thread: a hit needs the same redactor and the same
/// name, byte for byte, so it answers exactly what classifying would.
pub(super) fn classify(settings: &Settings, key: &str) -> KeyClass {
    let bytes = key.as_bytes();
    if bytes.is_empty() || bytes.len() > MEMO_KEY_MAX {
        return classify_now(settings, key);
    }
    let len = bytes.len();
    let slot = (len
        .wrapping_mul(31)
        .wrapping_add(usize::from(bytes[0]))
        .wrapping_add(usize::from(bytes[len / 2]).wrapping_mul(7))
        .wrapping_add(usize::from(bytes[len - 1]).wrapping_mul(13)))
        % MEMO_ENTRIES;
    let remembered = MEMOS.with_borrow(|memos| {
        let memo = &memos[slot];
        (memo.settings == settings.id && usize::from(memo.len) == len && &memo.key[..len] == bytes)
            .then_some(memo.class)
    });
    if let Some(class) = remembered {
        return class;
    }
    let class = classify_now(settings, key);
    MEMOS.with_borrow_mut(|memos| {
        let memo = &mut memos[slot];
        memo.settings = settings.id;
        memo.len = len as u8;
        memo.key[..len].copy_from_slice(bytes);
        memo.class = class;
    });
    class
}

/// Classifies a field name, every rule applied.
fn classify_now(settings: &Settings, key: &str) -> KeyClass {
    let fragment = with_normalised(key, |norm| {
        if norm.is_empty()
            || settings
                .allow
                .binary_search_by(|a| a.as_bytes().cmp(norm))
                .is_ok()
        {
            return None;
        }
        Some(
            has_default_fragment(norm)
                || settings
                    .deny
                    .iter()
                    .any(|f| norm.windows(f.len()).any(|w| w == f.as_bytes())),
        )
    });
    let Some(fragment) = fragment else {
        return KeyClass::Plain;
    };
    let words = Words::of(key);
    if !fragment && !words.personal && !words.secret {
        KeyClass::Plain
    } else if words.count {
        KeyClass::Count
    } else {
        KeyClass::Sensitive
    }
}

/// The built-in fragments, matched anywhere in the normalised key by
/// [`has_default_fragment`]; this list, which the docs give, is checked
/// against it by a test.
#[cfg(test)]
pub(super) const DEFAULT_FRAGMENTS: [&str; 24] = [
    // Secrets.
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "auth",
    "cookie",
    "session",
    "credential",
    "privatekey",
    "jwt",
    "bearer",
    "csrf",
    "xsrf",
    "accountkey",
    "sharedaccesskey",
    "sharedaccesssignature",
    "codeverifier",
    // Personal data.
    "phone",
    "passport",
    "birth",
    "socialsecurity",
];

/// Whether the normalised key contains one of [`DEFAULT_FRAGMENTS`]: one
/// walk with a dispatch on each byte instead of a substring search per
/// fragment.
pub(super) fn has_default_fragment(n: &[u8]) -> bool {
    (0..n.len()).any(|i| {
        let rest = &n[i..];
        let any = |frags: &[&str]| frags.iter().any(|f| rest.starts_with(f.as_bytes()));
        match n[i] {
            b'a' => any(&["auth", "apikey", "accountkey"]),
            b'b' => any(&["bearer", "birth"]),
            b'c' => any(&["cookie", "credential", "csrf", "codeverifier"]),
            b'j' => any(&["jwt"]),
            b'p' => any(&[
                "password",
                "passwd",
                "passphrase",
                "pwd",
                "privatekey",
                "phone",
                "passport",
            ]),
            b's' => any(&[
                "secret",
                "session",
                "sharedaccesskey",
                "sharedaccesssignature",
                "socialsecurity",
            ]),
            b't' => any(&["token"]),
            b'x' => any(&["xsrf"]),
            _ => false,
        }
    })
}

/// What the words of a key say: `user.homeAddress` is `user`, `home`,
/// `Address`.
struct Words {
    /// A name for personal data that a fragment cannot say safely (`ssn`
    /// is inside `classname`): see [`Words::of`].
    personal: bool,
    /// A word that names a secret only as a whole word ending the key:
    /// `pass` (`user_pass`, `db.pass`; not `passenger`, `bypass` or
    /// `pass_gate`).
    secret: bool,
    /// The name counts or limits something.
    count: bool,
}

/// What one word of a key can mean, as bit flags.
mod word {
    /// Personal data by itself: `ssn`, `dob`, `iban`, ...
    pub(super) const PERSONAL: u16 = 1;
    /// `address`, `addresses`, `street`.
    pub(super) const ADDRESS: u16 = 1 << 1;
    /// Makes an address a network or email one: `ip`, `client`, `email`, ...
    pub(super) const NOT_POSTAL: u16 = 1 << 2;
    /// Personal data when an id word follows: `tax`, `taxpayer`, `national`.
    pub(super) const ID_OF: u16 = 1 << 3;
    /// `id`, `number`, `no`, `identifier`.
    pub(super) const ID: u16 = 1 << 4;
    /// `mobile`.
    pub(super) const MOBILE: u16 = 1 << 5;
    /// `number`, `no`, `num` after `mobile`.
    pub(super) const MOBILE_NUMBER: u16 = 1 << 6;
    /// Names a count as the last word: `used`, `limit`, `total`, ...
    pub(super) const COUNT_LAST: u16 = 1 << 7;
    /// Names a count as the first word: `max`, `min`, `num`, `total`.
    pub(super) const COUNT_FIRST: u16 = 1 << 8;
    /// Starts a yes/no name: `is`, `has`.
    pub(super) const YES_NO: u16 = 1 << 9;
    /// A password by itself, as the key's last whole word: `pass`.
    pub(super) const SECRET: u16 = 1 << 10;
}

/// The flags of one word, compared lowercased in one `match`.
fn word_flags(w: &str) -> u16 {
    use word::*;
    let mut buf = [0u8; 12];
    let Some(dst) = buf.get_mut(..w.len()) else {
        return 0; // longer than any word below
    };
    dst.copy_from_slice(w.as_bytes());
    dst.make_ascii_lowercase();
    match &*dst {
        b"ssn" | b"dob" | b"iban" | b"cvv" | b"cvc" | b"taxid" | b"nationalid" => PERSONAL,
        b"address" | b"addresses" | b"street" => ADDRESS,
        b"ip" | b"ipv4" | b"ipv6" | b"mac" | b"remote" | b"client" | b"peer" | b"server"
        | b"local" | b"host" | b"socket" | b"bind" | b"listen" | b"network" | b"destination"
        | b"source" | b"email" | b"mail" => NOT_POSTAL,
        b"tax" | b"taxpayer" | b"national" => ID_OF,
        b"id" | b"identifier" => ID,
        b"number" | b"no" => ID | MOBILE_NUMBER,
        b"num" => MOBILE_NUMBER | COUNT_FIRST,
        b"mobile" => MOBILE,
        b"used" | b"limit" | b"remaining" | b"length" | b"len" | b"size" | b"quota" => COUNT_LAST,
        b"total" | b"max" | b"min" => COUNT_LAST | COUNT_FIRST,
        b"is" | b"has" => YES_NO,
        b"pass" => SECRET,
        _ => 0,
    }
}

impl Words {
    fn of(key: &str) -> Self {
        use word::*;
        let (mut first, mut prev, mut last) = (None, 0, 0);
        let mut all = 0;
        let mut personal = false;
        for w in words(key) {
            let flags = word_flags(w);
            first.get_or_insert(flags);
            all |= flags;
            // `tax_id`, `national_id_number`, `mobile_no`.
            personal |= (prev & ID_OF != 0 && flags & ID != 0)
                || (prev & MOBILE != 0 && flags & MOBILE_NUMBER != 0);
            prev = flags;
            last = flags;
        }
        let first = first.unwrap_or(0);
        // `mobile`, `user.mobile`, but not `is_mobile` (a yes/no).
        personal |= last & MOBILE != 0 && first & YES_NO == 0;
        personal |= all & PERSONAL != 0;
        personal |= all & ADDRESS != 0 && all & NOT_POSTAL == 0;
        Self {
            personal,
            secret: last & SECRET != 0,
            count: last & COUNT_LAST != 0 || first & COUNT_FIRST != 0,
        }
    }
}

fn is_separator(c: u8) -> bool {
    matches!(c, b'-' | b'_' | b'.') || c.is_ascii_whitespace() || c == b'\x0b'
}

/// The words of a key: split at `-`, `_`, `.`, whitespace and camelCase
/// humps (`APIKey` is `API`, `Key`).
fn words(key: &str) -> impl Iterator<Item = &str> {
    let b = key.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() && is_separator(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        let start = i;
        i += 1;
        while i < b.len() && !is_separator(b[i]) && !is_hump(b, i) {
            i += 1;
        }
        // Splits fall on ASCII bytes, so these are char boundaries.
        key.get(start..i)
    })
}

fn is_hump(b: &[u8], i: usize) -> bool {
    let (prev, c) = (b[i - 1], b[i]);
    c.is_ascii_uppercase()
        && (prev.is_ascii_lowercase()
            || prev.is_ascii_digit()
            || (prev.is_ascii_uppercase() && b.get(i + 1).is_some_and(u8::is_ascii_lowercase)))
}

/// A key lowercased, without `-`, `_`, `.` and whitespace.
pub(super) fn normalised(key: &str) -> impl Iterator<Item = char> + '_ {
    key.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.') && !c.is_whitespace())
        .flat_map(char::to_lowercase)
}

/// Calls `f` with the normalised key's bytes, on the stack when it is
/// short.
fn with_normalised<R>(key: &str, f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; KEY_BUF];
    let mut len = 0;
    if key.is_ascii() {
        // The common case, byte by byte; the same result as `normalised`.
        for &c in key.as_bytes() {
            if is_separator(c) {
                continue;
            }
            match buf.get_mut(len) {
                Some(dst) => *dst = c.to_ascii_lowercase(),
                None => return f(normalised(key).collect::<String>().as_bytes()),
            }
            len += 1;
        }
    } else {
        for c in normalised(key) {
            let n = c.len_utf8();
            match buf.get_mut(len..len + n) {
                Some(dst) => {
                    c.encode_utf8(dst);
                    len += n;
                }
                None => return f(normalised(key).collect::<String>().as_bytes()),
            }
        }
    }
    f(&buf[..len])
}

/// `1532`, `-3`, `0.25`: a plain decimal number.
pub(super) fn is_number(v: &[u8]) -> bool {
    let digits = v
        .strip_prefix(b"-")
        .or_else(|| v.strip_prefix(b"+"))
        .unwrap_or(v);
    let mut dot = false;
    !digits.is_empty()
        && digits.first().is_some_and(u8::is_ascii_digit)
        && digits.last().is_some_and(u8::is_ascii_digit)
        && digits.iter().all(|&c| {
            if c == b'.' && !dot {
                dot = true;
                true
            } else {
                c.is_ascii_digit()
            }
        })
}
