//! Replaces the variable parts of a message with placeholders, so that the
//! same error with a different id, time or address groups together.
//!
//! One regular expression with an alternative per kind, tried left to right
//! at each position (the regex crate's leftmost-first semantics), so a URL is
//! replaced whole before the numbers inside it are seen. Linear in the input.
//! Placeholders contain no digits and no hex-only words, so normalising twice
//! changes nothing.

use std::sync::LazyLock;

use regex::Regex;

static VARIABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<url>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\x22<>()\[\]{}]+)",
        r"|(?P<email>\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b)",
        r"|(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)",
        r"|(?P<date>\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+\-]\d{2}:?\d{2})?)?)",
        r"|(?P<time>\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b)",
        r"|(?P<ip>\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b|\b(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}\b|::1\b)",
        r"|(?P<hexnum>\b0[xX][0-9a-fA-F]+\b)",
        r"|(?P<hash>\b[0-9a-fA-F]{16,128}\b)",
        r"|(?P<duration>\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds|m|min|mins|minutes|h|hr|hrs|hours|d|days)\b)",
        r"|(?P<num>\d+(?:[.,]\d+)*)",
    ))
    .expect("normalisation regex compiles")
});

const KINDS: [(&str, &str); 10] = [
    ("url", "<url>"),
    ("email", "<email>"),
    ("uuid", "<uuid>"),
    ("date", "<date>"),
    ("time", "<time>"),
    ("ip", "<ip>"),
    ("hexnum", "<hex>"),
    ("hash", "<hash>"),
    ("duration", "<duration>"),
    ("num", "<num>"),
];

/// `message` with its variable parts replaced by `<url>`, `<email>`,
/// `<uuid>`, `<date>`, `<time>`, `<ip>`, `<hex>`, `<hash>`, `<duration>` and
/// `<num>`; runs of whitespace become one space.
///
/// A placeholder can create a word boundary that was not there (`9a://x`
/// becomes `<num>a://x`, where a URL now starts), so passes repeat until
/// nothing changes. Placeholders never match again and every replacement
/// consumes input, so this ends; nearly every message needs one pass plus
/// the one that finds nothing.
pub fn normalize(message: &str) -> String {
    let mut current = pass(message);
    for _ in 0..8 {
        let next = pass(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn pass(message: &str) -> String {
    let replaced = VARIABLE.replace_all(message, |caps: &regex::Captures<'_>| {
        // A long run of decimal digits fits the hash pattern but is a number.
        if caps
            .name("hash")
            .is_some_and(|m| m.as_str().bytes().all(|b| b.is_ascii_digit()))
        {
            return "<num>";
        }
        KINDS
            .iter()
            .find(|(name, _)| caps.name(name).is_some())
            .map(|(_, placeholder)| *placeholder)
            .unwrap_or("<?>")
    });
    let mut out = String::with_capacity(replaced.len());
    for word in replaced.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn each_kind() {
        let cases = [
            (
                "GET https://api.example.com/v1/users/42?x=1 failed",
                "GET <url> failed",
            ),
            (
                "mail to alice@example.com bounced",
                "mail to <email> bounced",
            ),
            (
                "order 3f2504e0-4f89-11d3-9a0c-0305e82c3301 missing",
                "order <uuid> missing",
            ),
            (
                "at 2026-11-23T19:12:34.567Z the job died",
                "at <date> the job died",
            ),
            (
                "at 2026-11-23 19:12:34 the job died",
                "at <date> the job died",
            ),
            ("since 19:12:34 nothing", "since <time> nothing"),
            ("connect 10.1.2.3:5432 refused", "connect <ip> refused"),
            ("peer fe80:0:0:0:200:f8ff:fe21:67cf down", "peer <ip> down"),
            ("segfault at 0x7ffdeadbeef", "segfault at <hex>"),
            (
                "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 bad",
                "commit <hash> bad",
            ),
            ("timed out after 1500ms", "timed out after <duration>"),
            ("timed out after 2.5 s", "timed out after <duration>"),
            (
                "user 98213 has 3 items costing 4.50",
                "user <num> has <num> items costing <num>",
            ),
            ("worker-17 crashed", "worker-<num> crashed"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "{input}");
        }
    }

    #[test]
    fn placeholders_that_open_a_boundary_are_normalised_too() {
        // Found by the property test: 𐒠 is a Unicode digit glued to a URL.
        let once = normalize("\u{2d7f}\u{104a0}a://A");
        assert_eq!(normalize(&once), once);
        assert_eq!(normalize("9a://x.example"), "<num><url>");
        assert_eq!(normalize("é9ab@example.com"), "é<num><email>");
        assert_eq!(normalize("id 1000000000000000 gone"), "id <num> gone");
    }

    #[test]
    fn words_stay() {
        let s = "KeyError: 'user_id' in handler";
        assert_eq!(normalize(s), s);
        assert_eq!(normalize("  a \n\t b  "), "a b");
    }
}
