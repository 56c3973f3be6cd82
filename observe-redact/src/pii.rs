//! Personal data recognised by its shape: card numbers, E.164 phone
//! numbers, US social security numbers and IBANs. Each shape is narrow and
//! validated (Luhn, mod-97, reserved ranges), so ids, hashes, timestamps
//! and prices are left alone.

use std::ops::Range;

/// Card numbers: 13 to 19 digits, starting 2 to 6 (the banking and
/// financial industries: Mastercard, Amex, Visa, Discover, ...), 13 only
/// for Visa's 4 (a Unix millisecond timestamp has 13 digits, starting 1 to
/// 3 until 2096), passing the Luhn check, not glued to letters (a hex id). Grouped by single spaces or dashes, the first
/// group has 4 digits and the others 3 to 6 (`4111 1111 1111 1111`,
/// `3782 822463 10005`). Every window of whole groups inside a longer run
/// (`2024-01-15 4111 1111 1111 1111`) is tried.
///
/// Starts at the digit `i`; returns where the run of groups ends, the next
/// place a card can start.
pub(super) fn cards_at(b: &[u8], i: usize, out: &mut Vec<Range<usize>>) -> usize {
    const MIN: usize = 13;
    const MAX: usize = 19;
    let len = b.len();
    // The start of the group after the one ending at `end`, if any.
    let next_group = |end: usize| -> Option<usize> {
        (end + 1 < len && matches!(b[end], b' ' | b'-') && b[end + 1].is_ascii_digit())
            .then_some(end + 1)
    };
    let letter_at = |k: usize| b.get(k).is_some_and(u8::is_ascii_alphabetic);
    let mut group = i;
    loop {
        // Windows starting at `group`: at most MAX digits are read.
        let mut digits = [0u8; MAX];
        let mut n = 0;
        let mut j = group;
        let mut groups = 0;
        let mut shaped = true;
        'window: loop {
            let start = j;
            while j < len && b[j].is_ascii_digit() {
                match digits.get_mut(n) {
                    Some(d) => *d = b[j] - b'0',
                    None => break 'window,
                }
                n += 1;
                j += 1;
            }
            groups += 1;
            let size = j - start;
            shaped &= match groups {
                1 => true,
                2 => n - size == 4 && (3..=6).contains(&size),
                _ => (3..=6).contains(&size),
            };
            if n >= MIN
                && shaped
                && (2..=6).contains(&digits[0])
                && (n > MIN || digits[0] == 4)
                && !(group > 0 && letter_at(group - 1))
                && !letter_at(j)
                && luhn(&digits[..n])
            {
                out.push(group..j);
            }
            match next_group(j) {
                Some(next) => j = next,
                None => break,
            }
        }
        let mut end = group;
        while end < len && b[end].is_ascii_digit() {
            end += 1;
        }
        match next_group(end) {
            Some(next) => group = next,
            None => return end,
        }
    }
}

pub(super) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            let d = u32::from(d);
            match k % 2 {
                0 => d,
                _ if d * 2 > 9 => d * 2 - 9,
                _ => d * 2,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn digits_at(b: &[u8], i: usize, n: usize) -> Option<&[u8]> {
    b.get(i..i + n).filter(|d| d.iter().all(u8::is_ascii_digit))
}

/// Whether the byte at `k` (if any) ends a number: not alphanumeric, and
/// not a dash or dot that another digit follows or precedes (`1-2`).
fn number_edge(b: &[u8], k: Option<usize>, toward: isize) -> bool {
    let Some(k) = k else { return true };
    let Some(&c) = b.get(k) else { return true };
    if c.is_ascii_alphanumeric() {
        return false;
    }
    let beyond = k.checked_add_signed(toward).and_then(|m| b.get(m));
    !(matches!(c, b'-' | b'.') && beyond.is_some_and(u8::is_ascii_digit))
}

/// A US social security number `AAA-GG-SSSS` starting at the digit `p`,
/// outside the never-issued ranges (area 000, 666, 900-999; group 00;
/// serial 0000).
pub(super) fn ssn_at(b: &[u8], p: usize) -> Option<Range<usize>> {
    let area = digits_at(b, p, 3)?;
    let group = digits_at(b, p + 4, 2)?;
    let serial = digits_at(b, p + 7, 4)?;
    let end = p + 11;
    (b[p + 3] == b'-'
        && b[p + 6] == b'-'
        && area != b"000"
        && area != b"666"
        && area[0] != b'9'
        && group != b"00"
        && serial != b"0000"
        && number_edge(b, p.checked_sub(1), -1)
        && number_edge(b, Some(end), 1))
    .then_some(p..end)
}

/// IBAN lengths by country (ISO 13616 registry).
#[rustfmt::skip]
const IBAN_LENGTHS: &[(&[u8; 2], u8)] = &[
    (b"AD", 24), (b"AE", 23), (b"AL", 28), (b"AT", 20), (b"AZ", 28), (b"BA", 20),
    (b"BE", 16), (b"BG", 22), (b"BH", 22), (b"BI", 27), (b"BR", 29), (b"BY", 28),
    (b"CH", 21), (b"CR", 22), (b"CY", 28), (b"CZ", 24), (b"DE", 22), (b"DJ", 27),
    (b"DK", 18), (b"DO", 28), (b"EE", 20), (b"EG", 29), (b"ES", 24), (b"FI", 18),
    (b"FK", 18), (b"FO", 18), (b"FR", 27), (b"GB", 22), (b"GE", 22), (b"GI", 23),
    (b"GL", 18), (b"GR", 27), (b"GT", 28), (b"HN", 28), (b"HR", 21), (b"HU", 28),
    (b"IE", 22), (b"IL", 23), (b"IQ", 23), (b"IS", 26), (b"IT", 27), (b"JO", 30),
    (b"KW", 30), (b"KZ", 20), (b"LB", 28), (b"LC", 32), (b"LI", 21), (b"LT", 20),
    (b"LU", 20), (b"LV", 21), (b"LY", 25), (b"MC", 27), (b"MD", 24), (b"ME", 22),
    (b"MK", 19), (b"MN", 20), (b"MR", 27), (b"MT", 31), (b"MU", 30), (b"NI", 28),
    (b"NL", 18), (b"NO", 15), (b"OM", 23), (b"PK", 24), (b"PL", 28), (b"PS", 29),
    (b"PT", 25), (b"QA", 29), (b"RO", 24), (b"RS", 22), (b"RU", 33), (b"SA", 24),
    (b"SC", 31), (b"SD", 18), (b"SE", 24), (b"SI", 19), (b"SK", 24), (b"SM", 27),
    (b"SO", 23), (b"ST", 25), (b"SV", 28), (b"TL", 23), (b"TN", 24), (b"TR", 26),
    (b"UA", 29), (b"VA", 22), (b"VG", 24), (b"XK", 20),
];

fn iban_length(country: &[u8]) -> Option<usize> {
    IBAN_LENGTHS
        .iter()
        .find(|(c, _)| &c[..] == country)
        .map(|&(_, n)| usize::from(n))
}

/// An IBAN whose check digits start at the digit `p` (the country code is
/// the two uppercase letters before): the country's length in `[A-Z0-9]`,
/// optionally in groups of four separated by single spaces, passing the
/// mod-97 check.
pub(super) fn iban_at(b: &[u8], p: usize) -> Option<Range<usize>> {
    let start = p.checked_sub(2)?;
    let country = &b[start..p];
    let glued = start > 0 && b[start - 1].is_ascii_alphanumeric();
    if glued || !country.iter().all(u8::is_ascii_uppercase) || digits_at(b, p, 2).is_none() {
        return None;
    }
    let want = iban_length(country)?;
    // Mod 97 of the number read as BBAN, then country and check digits.
    let mut rem: u32 = 0;
    let mut add = |c: u8| {
        let v = u32::from(if c.is_ascii_digit() {
            c - b'0'
        } else {
            c - b'A' + 10
        });
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    };
    let (mut n, mut j) = (4, p + 2);
    while n < want {
        match b.get(j) {
            Some(&c) if c.is_ascii_digit() || c.is_ascii_uppercase() => {
                add(c);
                n += 1;
                j += 1;
            }
            Some(b' ') if n % 4 == 0 && b.get(j + 1).is_some_and(u8::is_ascii_alphanumeric) => {
                j += 1;
            }
            _ => return None,
        }
    }
    if b.get(j).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    for &c in &b[start..p + 2] {
        add(c);
    }
    (rem == 1).then_some(start..j)
}

/// An E.164 phone number at the `+` at `p`: a country code not starting
/// with 0, 8 to 15 digits in all, in groups separated by a space or a dash,
/// optionally with one group in parentheses (`+1 (415) 555-2671`).
pub(super) fn phone_at(b: &[u8], p: usize) -> Option<Range<usize>> {
    const MIN: usize = 8;
    const MAX: usize = 15;
    if p > 0 && (b[p - 1].is_ascii_alphanumeric() || b[p - 1] == b'+') {
        return None;
    }
    if !b.get(p + 1).is_some_and(|c| (b'1'..=b'9').contains(c)) {
        return None;
    }
    let (mut digits, mut end, mut j) = (0, p + 1, p + 1);
    let (mut opened, mut closed) = (false, false);
    loop {
        let group = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if digits + (j - group) > MAX {
            // A longer number is not a phone; stop after the last whole group.
            if digits == 0 {
                return None;
            }
            break;
        }
        digits += j - group;
        end = j;
        // The separator before the next group: ` `, `-`, `(`, ` (`, `)`,
        // `) `, `)-`.
        let mut k = j;
        if opened && !closed && b.get(k) == Some(&b')') {
            closed = true;
            k += 1;
        }
        if matches!(b.get(k), Some(b' ' | b'-')) {
            k += 1;
        }
        if !opened && b.get(k) == Some(&b'(') {
            opened = true;
            k += 1;
        }
        if k == j || !b.get(k).is_some_and(u8::is_ascii_digit) {
            break;
        }
        j = k;
    }
    (digits >= MIN && !b.get(end).is_some_and(u8::is_ascii_alphanumeric)).then_some(p..end)
}
