//! Normalised views of a text, each with a byte-offset map back to the original.
//!
//! Every view is derived from another view (or from the raw text) by a bounded, linear-time
//! transformation. Each output byte remembers the range of ORIGINAL bytes it came from, so a
//! match found in any view can be reported as a span of the original text.

use std::ops::Range;

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Cap on the total number of bytes produced by blob decoders (base64, hex, base32) per text.
pub const MAX_DECODED_BYTES: usize = 4096;
/// Minimum length of an encoded run before a blob decoder tries it.
pub const MIN_BLOB_RUN: usize = 16;

/// Which transformation produced a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ViewKind {
    /// The original text.
    Raw,
    /// Escapes decoded: `\uXXXX`, `\xNN`, `%XX`, HTML entities.
    Decoded,
    /// Hidden text revealed: Unicode tag characters and variation-selector byte smuggling.
    Revealed,
    /// Compatibility decomposition, lowercase, invisible characters and combining marks removed.
    Folded,
    /// Homoglyphs (Cyrillic, Greek, ...) mapped to Latin on top of [`ViewKind::Folded`].
    Skeleton,
    /// Leetspeak undone on top of [`ViewKind::Skeleton`].
    Deleeted,
    /// Only letters and digits of [`ViewKind::Skeleton`] (undoes spaced / dotted letters).
    Despaced,
    /// [`ViewKind::Skeleton`] with its characters in reverse order.
    Reversed,
    /// [`ViewKind::Skeleton`] with ROT13 applied.
    Rot13,
    /// Decoded base64 runs (folded).
    Base64,
    /// Decoded hex runs (folded).
    Hex,
    /// Decoded base32 runs (folded).
    Base32,
}

impl ViewKind {
    /// Stable lowercase name used in explanations.
    pub fn name(self) -> &'static str {
        match self {
            ViewKind::Raw => "raw",
            ViewKind::Decoded => "decoded",
            ViewKind::Revealed => "revealed",
            ViewKind::Folded => "folded",
            ViewKind::Skeleton => "skeleton",
            ViewKind::Deleeted => "deleeted",
            ViewKind::Despaced => "despaced",
            ViewKind::Reversed => "reversed",
            ViewKind::Rot13 => "rot13",
            ViewKind::Base64 => "base64",
            ViewKind::Hex => "hex",
            ViewKind::Base32 => "base32",
        }
    }
}

/// One view of a text plus, for every byte of `text`, the original byte range it came from.
#[derive(Debug, Clone)]
pub struct View {
    /// Which transformation produced this view.
    pub kind: ViewKind,
    /// The transformed text.
    pub text: String,
    /// For every byte of `text`: (start, end) of the original bytes it came from.
    map: Vec<(u32, u32)>,
}

impl View {
    /// The raw view of `text` (identity map).
    pub fn raw(text: &str) -> View {
        let mut b = Builder::with_capacity(text.len());
        for (i, c) in text.char_indices() {
            b.push(c, i, i + c.len_utf8());
        }
        b.finish(ViewKind::Raw)
    }

    /// Maps a byte range of this view to the smallest range of the original text covering it.
    /// Always returns a range inside the original text. Empty input ranges map to an empty range.
    pub fn to_original(&self, r: Range<usize>) -> Range<usize> {
        let end = r.end.min(self.text.len());
        let start = r.start.min(end);
        if start == end {
            let p = if start < self.map.len() {
                self.map[start].0
            } else {
                self.map.last().map_or(0, |m| m.1)
            };
            return p as usize..p as usize;
        }
        let mut lo = u32::MAX;
        let mut hi = 0;
        for &(s, e) in &self.map[start..end] {
            lo = lo.min(s);
            hi = hi.max(e);
        }
        lo as usize..hi as usize
    }

    fn src(&self, a: usize, b: usize) -> (usize, usize) {
        if b == a + 1 || (b > a && self.map[a].0 == self.map[b - 1].0) {
            return (self.map[a].0 as usize, self.map[b - 1].1 as usize);
        }
        let r = self.to_original(a..b);
        (r.start, r.end)
    }

    fn chars(&self) -> impl Iterator<Item = (usize, char)> + '_ {
        self.text.char_indices()
    }
}

struct Builder {
    text: String,
    map: Vec<(u32, u32)>,
}

impl Builder {
    fn with_capacity(n: usize) -> Builder {
        Builder {
            text: String::with_capacity(n),
            map: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, c: char, s: usize, e: usize) {
        self.text.push(c);
        let m = (s as u32, e as u32);
        for _ in 0..c.len_utf8() {
            self.map.push(m);
        }
    }

    fn finish(self, kind: ViewKind) -> View {
        View {
            kind,
            text: self.text,
            map: self.map,
        }
    }
}

fn hex_val(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'a'..=b'f' => Some(u32::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u32::from(b - b'A' + 10)),
        _ => None,
    }
}

fn parse_hex(bytes: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &b in bytes {
        v = v * 16 + hex_val(b)?;
    }
    Some(v)
}

/// Pushes a run of escaped bytes (from `\xNN` / `%XX`), decoding UTF-8 where valid and Latin-1
/// otherwise. `units[i]` = (byte, original start, original end).
fn flush_bytes(b: &mut Builder, units: &mut Vec<(u8, usize, usize)>) {
    let mut i = 0;
    while i < units.len() {
        let lead = units[i].0;
        let w = match lead {
            0x00..=0x7f => 1,
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 0,
        };
        if w > 0 && i + w <= units.len() {
            let bytes: Vec<u8> = units[i..i + w].iter().map(|u| u.0).collect();
            if let Ok(s) = std::str::from_utf8(&bytes) {
                if let Some(c) = s.chars().next() {
                    b.push(c, units[i].1, units[i + w - 1].2);
                    i += w;
                    continue;
                }
            }
        }
        b.push(char::from(lead), units[i].1, units[i].2);
        i += 1;
    }
    units.clear();
}

const ENTITIES: &[(&str, char)] = &[
    ("lt", '<'),
    ("gt", '>'),
    ("amp", '&'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", ' '),
    ("sol", '/'),
    ("colon", ':'),
    ("lpar", '('),
    ("rpar", ')'),
    ("period", '.'),
    ("comma", ','),
];

/// Decodes `\uXXXX` (with surrogate pairs), `\u{X..}`, `\xNN`, `%XX` and HTML entities.
pub fn decode_escapes(v: &View) -> View {
    let t = v.text.as_bytes();
    if !t.iter().any(|&b| matches!(b, b'\\' | b'%' | b'&')) {
        let mut same = v.clone();
        same.kind = ViewKind::Decoded;
        return same;
    }
    let mut b = Builder::with_capacity(t.len());
    let mut pending: Vec<(u8, usize, usize)> = Vec::new();
    let mut i = 0;
    while i < t.len() {
        // Byte escapes: \xNN and %XX.
        if i + 3 < t.len() + 1
            && ((t[i] == b'\\' && i + 3 < t.len() && t[i + 1] == b'x')
                || (t[i] == b'%' && i + 2 < t.len()))
        {
            let (hs, len) = if t[i] == b'\\' {
                (i + 2, 4)
            } else {
                (i + 1, 3)
            };
            if hs + 2 <= t.len() {
                if let Some(val) = parse_hex(&t[hs..hs + 2]) {
                    let (s, e) = v.src(i, i + len);
                    pending.push((val as u8, s, e));
                    i += len;
                    continue;
                }
            }
        }
        flush_bytes(&mut b, &mut pending);
        if t[i] == b'\\' && i + 5 < t.len() + 1 && i + 1 < t.len() && t[i + 1] == b'u' {
            // \u{...}
            if i + 2 < t.len() && t[i + 2] == b'{' {
                if let Some(close) = t[i + 3..t.len().min(i + 12)]
                    .iter()
                    .position(|&c| c == b'}')
                {
                    if let Some(cp) = parse_hex(&t[i + 3..i + 3 + close]).and_then(char::from_u32) {
                        let (s, e) = v.src(i, i + 4 + close);
                        b.push(cp, s, e);
                        i += 4 + close;
                        continue;
                    }
                }
            } else if i + 6 <= t.len() {
                if let Some(hi) = parse_hex(&t[i + 2..i + 6]) {
                    if (0xd800..0xdc00).contains(&hi)
                        && i + 12 <= t.len()
                        && t[i + 6] == b'\\'
                        && t[i + 7] == b'u'
                    {
                        if let Some(lo) = parse_hex(&t[i + 8..i + 12]) {
                            if (0xdc00..0xe000).contains(&lo) {
                                let cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                                if let Some(c) = char::from_u32(cp) {
                                    let (s, e) = v.src(i, i + 12);
                                    b.push(c, s, e);
                                    i += 12;
                                    continue;
                                }
                            }
                        }
                    }
                    if let Some(c) = char::from_u32(hi) {
                        let (s, e) = v.src(i, i + 6);
                        b.push(c, s, e);
                        i += 6;
                        continue;
                    }
                }
            }
        }
        if t[i] == b'&' {
            if let Some(semi) = t[i + 1..t.len().min(i + 12)]
                .iter()
                .position(|&c| c == b';')
            {
                let body = &t[i + 1..i + 1 + semi];
                let decoded = if body.first() == Some(&b'#') {
                    if body.get(1).is_some_and(|&c| c == b'x' || c == b'X') {
                        parse_hex(&body[2..]).and_then(char::from_u32)
                    } else {
                        std::str::from_utf8(&body[1..])
                            .ok()
                            .and_then(|s| s.parse::<u32>().ok())
                            .and_then(char::from_u32)
                    }
                } else {
                    ENTITIES
                        .iter()
                        .find(|(n, _)| n.as_bytes() == body)
                        .map(|&(_, c)| c)
                };
                if let Some(c) = decoded {
                    let (s, e) = v.src(i, i + 2 + semi);
                    b.push(c, s, e);
                    i += 2 + semi;
                    continue;
                }
            }
        }
        // Ordinary character.
        let c = v.text[i..].chars().next().unwrap_or('\u{fffd}');
        let n = c.len_utf8();
        let (s, e) = v.src(i, i + n);
        b.push(c, s, e);
        i += n;
    }
    flush_bytes(&mut b, &mut pending);
    b.finish(ViewKind::Decoded)
}

fn vs_byte(c: char) -> Option<u8> {
    let u = c as u32;
    if (0xfe00..=0xfe0f).contains(&u) {
        Some((u - 0xfe00) as u8)
    } else if (0xe0100..=0xe01ef).contains(&u) {
        Some((u - 0xe0100 + 16) as u8)
    } else {
        None
    }
}

/// Reveals hidden text: Unicode tag characters become ASCII; runs of ≥ 4 variation selectors
/// are decoded as smuggled bytes.
pub fn reveal_hidden(v: &View) -> View {
    if !v
        .text
        .chars()
        .any(|c| (c as u32) >= 0xe0000 || vs_byte(c).is_some())
    {
        let mut same = v.clone();
        same.kind = ViewKind::Revealed;
        return same;
    }
    let mut b = Builder::with_capacity(v.text.len());
    let chars: Vec<(usize, char)> = v.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let u = c as u32;
        let end = pos + c.len_utf8();
        if (0xe0000..=0xe007f).contains(&u) {
            let a = u - 0xe0000;
            if (0x20..0x7f).contains(&a) || a == 0x0a {
                let (s, e) = v.src(pos, end);
                b.push(char::from(a as u8), s, e);
            }
            i += 1;
            continue;
        }
        if vs_byte(c).is_some() {
            let mut j = i;
            while j < chars.len() && vs_byte(chars[j].1).is_some() {
                j += 1;
            }
            if j - i >= 4 {
                let mut units: Vec<(u8, usize, usize)> = Vec::with_capacity(j - i);
                for &(p, ch) in &chars[i..j] {
                    let (s, e) = v.src(p, p + ch.len_utf8());
                    units.push((vs_byte(ch).unwrap_or(0), s, e));
                }
                // Only printable ASCII / UTF-8 survive.
                flush_bytes(&mut b, &mut units);
            }
            i = j;
            continue;
        }
        let (s, e) = v.src(pos, end);
        b.push(c, s, e);
        i += 1;
    }
    b.finish(ViewKind::Revealed)
}

/// Characters that render as nothing (or only change direction) and are dropped by folding.
pub fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00ad | 0x034f | 0x061c | 0x115f | 0x1160 | 0x17b4 | 0x17b5 | 0x180b..=0x180f
        | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x206f | 0x3164 | 0xfe00..=0xfe0f
        | 0xfeff | 0xffa0 | 0xfff0..=0xfff8 | 0x1d173..=0x1d17a | 0xe0000..=0xe0fff)
}

fn fold_char(c: char, out: &mut impl FnMut(char)) {
    if c.is_ascii() {
        out(c.to_ascii_lowercase());
        return;
    }
    decompose_compatible(c, |d| {
        if is_combining_mark(d) || is_invisible(d) {
            return;
        }
        for l in d.to_lowercase() {
            decompose_compatible(l, |m| {
                if !is_combining_mark(m) && !is_invisible(m) {
                    out(m);
                }
            });
        }
    });
}

/// Folds a string the same way [`fold`] folds a view (used to prepare lexicons).
pub fn fold_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        fold_char(c, &mut |m| out.push(m));
    }
    out
}

/// Compatibility decomposition (NFKD), lowercase, invisible/bidi/zero-width characters and
/// combining marks removed. Idempotent.
pub fn fold(v: &View, kind: ViewKind) -> View {
    let mut b = Builder::with_capacity(v.text.len());
    for (p, c) in v.chars() {
        let (s, e) = v.src(p, p + c.len_utf8());
        fold_char(c, &mut |m| b.push(m, s, e));
    }
    b.finish(kind)
}

/// Maps a (folded, lowercase) homoglyph to the Latin letter it imitates.
pub fn confusable(c: char) -> Option<char> {
    Some(match c {
        'а' | 'α' | 'ɑ' => 'a',
        'в' | 'β' | 'ь' | 'ƅ' => 'b',
        'с' | 'ϲ' | 'ς' => 'c',
        'ԁ' | 'ɗ' => 'd',
        'е' | 'ё' | 'ε' | 'є' | 'ә' => 'e',
        'ғ' | 'ϝ' => 'f',
        'ɡ' | 'ց' => 'g',
        'һ' | 'н' | 'ћ' | 'ђ' => 'h',
        'і' | 'ї' | 'ι' | 'ı' | 'ɩ' | 'ӏ' => 'i',
        'ј' | 'ϳ' => 'j',
        'к' | 'κ' | 'ĸ' => 'k',
        'ⅼ' | 'ℓ' | 'ǀ' => 'l',
        'м' | 'ṃ' => 'm',
        'п' | 'η' | 'ո' => 'n',
        'о' | 'ο' | 'σ' | 'օ' | 'ө' => 'o',
        'р' | 'ρ' | 'þ' => 'p',
        'ԛ' => 'q',
        'г' | 'ɼ' => 'r',
        'ѕ' | 'ꜱ' => 's',
        'т' | 'τ' => 't',
        'υ' | 'ц' | 'μ' | 'ս' => 'u',
        'ν' | 'ѵ' => 'v',
        'ԝ' | 'ω' | 'ш' | 'ѡ' => 'w',
        'х' | 'χ' | 'ж' => 'x',
        'у' | 'γ' | 'ү' | 'ў' => 'y',
        'ʐ' | 'ᴢ' => 'z',
        _ => return None,
    })
}

/// Replaces homoglyphs by the Latin letters they imitate.
pub fn skeleton(v: &View) -> View {
    if v.text.is_ascii() {
        let mut same = v.clone();
        same.kind = ViewKind::Skeleton;
        return same;
    }
    map_chars(v, ViewKind::Skeleton, |c| confusable(c).unwrap_or(c))
}

fn map_chars(v: &View, kind: ViewKind, f: impl Fn(char) -> char) -> View {
    let mut b = Builder::with_capacity(v.text.len());
    for (p, c) in v.chars() {
        let (s, e) = v.src(p, p + c.len_utf8());
        b.push(f(c), s, e);
    }
    b.finish(kind)
}

fn leet(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' | '!' | '|' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' | '+' => 't',
        '8' => 'b',
        '9' => 'g',
        _ => return None,
    })
}

/// Undoes leetspeak inside tokens that contain at least one letter.
pub fn deleet(v: &View) -> View {
    let chars: Vec<(usize, char)> = v.chars().collect();
    let mut b = Builder::with_capacity(v.text.len());
    let mut i = 0;
    while i < chars.len() {
        let in_tok = |c: char| c.is_alphanumeric() || leet(c).is_some();
        if !in_tok(chars[i].1) {
            let (p, c) = chars[i];
            let (s, e) = v.src(p, p + c.len_utf8());
            b.push(c, s, e);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && in_tok(chars[j].1) {
            j += 1;
        }
        let has_letter = chars[i..j].iter().any(|&(_, c)| c.is_alphabetic());
        for &(p, c) in &chars[i..j] {
            let (s, e) = v.src(p, p + c.len_utf8());
            let o = if has_letter { leet(c).unwrap_or(c) } else { c };
            b.push(o, s, e);
        }
        i = j;
    }
    b.finish(ViewKind::Deleeted)
}

/// Keeps only letters and digits (undoes spaced, dotted, dashed or hyphenated letters).
pub fn despace(v: &View) -> View {
    let mut b = Builder::with_capacity(v.text.len());
    for (p, c) in v.chars() {
        if c.is_alphanumeric() {
            let (s, e) = v.src(p, p + c.len_utf8());
            b.push(c, s, e);
        }
    }
    b.finish(ViewKind::Despaced)
}

/// Reverses the order of characters.
pub fn reverse(v: &View) -> View {
    let mut b = Builder::with_capacity(v.text.len());
    let chars: Vec<(usize, char)> = v.chars().collect();
    for &(p, c) in chars.iter().rev() {
        let (s, e) = v.src(p, p + c.len_utf8());
        b.push(c, s, e);
    }
    b.finish(ViewKind::Reversed)
}

/// Applies ROT13 to ASCII letters.
pub fn rot13(v: &View) -> View {
    map_chars(v, ViewKind::Rot13, |c| match c {
        'a'..='m' | 'A'..='M' => char::from(c as u8 + 13),
        'n'..='z' | 'N'..='Z' => char::from(c as u8 - 13),
        _ => c,
    })
}

fn b64_val(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

fn decode_base64(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in s {
        let Some(v) = b64_val(c) else { break };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn decode_base32(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'2'..=b'7' => u32::from(c - b'2') + 26,
            _ => break,
        };
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn decode_hex(s: &[u8]) -> Vec<u8> {
    s.chunks_exact(2)
        .filter_map(|p| parse_hex(p).map(|v| v as u8))
        .collect()
}

/// Decoded bytes count as text when valid UTF-8, ≥ 90 % printable and containing letters.
fn printable_text(bytes: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(bytes).ok()?;
    let total = s.chars().count();
    if total < 6 {
        return None;
    }
    let printable = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
        .count();
    let letters = s.chars().filter(|c| c.is_alphabetic()).count();
    (printable * 10 >= total * 9 && letters * 2 >= total).then_some(s)
}

/// Finds base64, hex and base32 runs (≥ [`MIN_BLOB_RUN`] chars) in `v`, decodes those that yield
/// mostly printable text, and returns one folded view per encoding that produced text. Total
/// decoded output is capped by [`MAX_DECODED_BYTES`]; decoded text is not decoded again.
pub fn decode_blobs(v: &View) -> Vec<View> {
    let t = v.text.as_bytes();
    let mut budget = MAX_DECODED_BYTES;
    let mut views: Vec<(ViewKind, Builder)> = Vec::new();
    let mut i = 0;
    let is_b64 = |c: u8| b64_val(c).is_some();
    while i < t.len() && budget > 0 {
        if !is_b64(t[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < t.len() && is_b64(t[j]) {
            j += 1;
        }
        let mut run = &t[i..j];
        if run.len() > 2
            && (run.starts_with(b"0x") || run.starts_with(b"0X"))
            && run[2..].iter().all(|c| c.is_ascii_hexdigit())
        {
            run = &run[2..];
        }
        if run.len() >= MIN_BLOB_RUN {
            let all_hex = run.iter().all(|c| c.is_ascii_hexdigit());
            let all_b32 = run
                .iter()
                .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(c));
            let mut candidates: Vec<(ViewKind, Vec<u8>)> = Vec::new();
            if all_hex && run.len().is_multiple_of(2) {
                candidates.push((ViewKind::Hex, decode_hex(run)));
            }
            if all_b32 {
                candidates.push((ViewKind::Base32, decode_base32(run)));
            }
            if !all_hex {
                candidates.push((ViewKind::Base64, decode_base64(run)));
            }
            let (s, e) = v.src(i, j);
            for (kind, bytes) in candidates {
                if let Some(text) = printable_text(&bytes) {
                    let slot = match views.iter().position(|(k, _)| *k == kind) {
                        Some(p) => p,
                        None => {
                            views.push((kind, Builder::with_capacity(text.len())));
                            views.len() - 1
                        }
                    };
                    let b = &mut views[slot].1;
                    for c in text.chars() {
                        if budget < c.len_utf8() {
                            break;
                        }
                        budget -= c.len_utf8();
                        fold_char(c, &mut |m| b.push(m, s, e));
                    }
                    b.push('\n', s, e);
                    break;
                }
            }
        }
        i = j;
    }
    views.into_iter().map(|(k, b)| b.finish(k)).collect()
}

/// All views of a text. Views that would be identical to their parent are omitted (except
/// `raw` and `folded`, which are always present).
/// Offsets are stored as `u32`: texts longer than 4 GiB are scanned on their first 4 GiB.
pub fn views(text: &str) -> Vec<View> {
    let mut cut = text.len().min(u32::MAX as usize);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let raw = View::raw(&text[..cut]);
    let decoded = decode_escapes(&raw);
    let revealed = reveal_hidden(&decoded);
    let folded = fold(&revealed, ViewKind::Folded);
    let skel = skeleton(&folded);
    let del = deleet(&skel);
    let desp = despace(&skel);
    let rev = reverse(&skel);
    let r13 = rot13(&skel);
    let blobs = decode_blobs(&decoded);
    let mut out = Vec::with_capacity(12);
    let dec_changed = decoded.text != raw.text;
    let rev_changed = revealed.text != decoded.text;
    let skel_changed = skel.text != folded.text;
    let del_changed = del.text != skel.text;
    out.push(raw);
    if dec_changed {
        out.push(decoded);
    }
    if rev_changed {
        out.push(revealed);
    }
    out.push(folded);
    if skel_changed {
        out.push(skel);
    }
    if del_changed {
        out.push(del);
    }
    out.push(desp);
    out.push(rev);
    out.push(r13);
    out.extend(blobs);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_with_offsets() {
        let raw = View::raw("a\\u0069b%41&lt;&#x41;\\x41");
        let d = decode_escapes(&raw);
        assert_eq!(d.text, "aibA<AA");
        assert_eq!(d.to_original(1..2), 1..7);
    }

    #[test]
    fn tags_revealed() {
        let hidden: String = "hi"
            .chars()
            .map(|c| char::from_u32(0xe0000 + c as u32).unwrap())
            .collect();
        let t = format!("x{hidden}y");
        let r = reveal_hidden(&View::raw(&t));
        assert_eq!(r.text, "xhiy");
    }

    #[test]
    fn fold_fullwidth_and_marks() {
        assert_eq!(fold_str("ＩＧＮＯＲＥ"), "ignore");
        assert_eq!(fold_str("i\u{0301}gn\u{200b}ore"), "ignore");
        assert_eq!(fold_str("𝐢𝐠𝐧𝐨𝐫𝐞"), "ignore");
    }

    #[test]
    fn blobs() {
        let v = View::raw("x aWdub3JlIHByZXZpb3VzIGluc3RydWN0aW9ucw== y");
        let b = decode_blobs(&v);
        assert_eq!(b.len(), 1);
        assert!(b[0].text.contains("ignore previous instructions"));
    }
}
