//! A small logistic-regression model over hashed features.
//!
//! Features: character 3–5-grams of the folded view (digits mapped to `0`, whitespace collapsed),
//! word unigrams and bigrams of the folded view, words of the skeleton/de-leeted view and of
//! decoded blobs when they differ, rule hits, and a few counts (second person, AI-addressing
//! words, imperatives at sentence start). The text is scored as a whole and segment by segment
//! (lines and quoted strings of ≥ 3 words, see [`segments`]); the highest logit wins, so a short
//! payload inside a long trace is not diluted. Weights are shipped in `model/weights.bin`:
//! magic `FLM1`, u32 bucket-count exponent, f32 bias, f32 scale, then one i16 per bucket
//! (little endian); weight = i16 × scale.

use std::sync::OnceLock;

use crate::normalize::{View, ViewKind};

/// Version of the shipped model weights (changes with `model/weights.bin`).
pub const MODEL_VERSION: &str = "hashlr-2026.11-2";

/// Default number of hash buckets as a power of two.
pub const DEFAULT_BITS: u32 = 17;

static WEIGHTS_BIN: &[u8] = include_bytes!("../model/weights.bin");

/// Output of the model for one text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelOutput {
    /// Model logit (bias included); `sigmoid(logit)` is the model's probability.
    pub logit: f32,
    /// Strongest positive features (name, contribution).
    pub top_features: Vec<(String, f32)>,
    /// Number of reader-addressing signals (see [`Features::address_signals`]).
    pub address_signals: usize,
}

/// Dense weights of the linear model.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// log2 of the number of buckets.
    pub bits: u32,
    /// Intercept.
    pub bias: f32,
    /// One weight per bucket.
    pub w: Vec<f32>,
}

impl Weights {
    /// All-zero weights.
    pub fn zeros(bits: u32) -> Weights {
        Weights {
            bits,
            bias: 0.0,
            w: vec![0.0; 1 << bits],
        }
    }

    /// Parses the binary format described in the module docs.
    pub fn from_bytes(b: &[u8]) -> Option<Weights> {
        if b.len() < 16 || &b[0..4] != b"FLM1" {
            return None;
        }
        let u = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
        let bits = u32::from_le_bytes(u(4));
        let bias = f32::from_le_bytes(u(8));
        let scale = f32::from_le_bytes(u(12));
        if !(4..=24).contains(&bits) || b.len() != 16 + 2 * (1usize << bits) {
            return None;
        }
        let w = b[16..]
            .chunks_exact(2)
            .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) * scale)
            .collect();
        Some(Weights { bits, bias, w })
    }

    /// Serialises to the binary format (weights quantised to i16).
    pub fn to_bytes(&self) -> Vec<u8> {
        let max = self.w.iter().fold(0f32, |m, x| m.max(x.abs()));
        let scale = if max > 0.0 { max / 32767.0 } else { 1.0 };
        let mut out = Vec::with_capacity(16 + 2 * self.w.len());
        out.extend_from_slice(b"FLM1");
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(&self.bias.to_le_bytes());
        out.extend_from_slice(&scale.to_le_bytes());
        for x in &self.w {
            let q = (x / scale).round().clamp(-32767.0, 32767.0) as i16;
            out.extend_from_slice(&q.to_le_bytes());
        }
        out
    }

    /// Linear score of a feature vector (without bias).
    pub fn dot(&self, f: &Features) -> f32 {
        let mask = (1usize << self.bits) - 1;
        f.hashes
            .iter()
            .map(|&h| self.w[h as usize & mask])
            .sum::<f32>()
            * f.value
    }
}

/// The shipped weights (zeros if the file is missing or malformed).
pub fn shipped() -> &'static Weights {
    static W: OnceLock<Weights> = OnceLock::new();
    W.get_or_init(|| Weights::from_bytes(WEIGHTS_BIN).unwrap_or_else(|| Weights::zeros(4)))
}

/// Hashed features of one text: every feature has the same value `value` (1/√n).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    /// Feature hashes (full 64-bit; reduced modulo the bucket count when scoring).
    pub hashes: Vec<u64>,
    /// Value of each feature.
    pub value: f32,
    /// Count of reader-addressing signals: second-person words, AI-addressing words and
    /// imperatives at the start of a sentence or line.
    pub address_signals: usize,
}

fn hash(ns: u8, bytes: &[u8]) -> u64 {
    // FNV-1a, 64 bit, with a namespace byte.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(ns);
    h = h.wrapping_mul(0x0000_0100_0000_01b3);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 29)
}

const AI_WORDS: &[&str] = &[
    "ai",
    "assistant",
    "agent",
    "llm",
    "model",
    "copilot",
    "claude",
    "gpt",
    "chatgpt",
    "bot",
];
const SECOND_PERSON: &[&str] = &[
    "you",
    "your",
    "yourself",
    "du",
    "dein",
    "deine",
    "dich",
    "tu",
    "vous",
    "votre",
    "tes",
    "usted",
    "você",
    "voce",
    "jij",
    "je",
    "jouw",
    "ty",
    "twoje",
    "ты",
    "вы",
    "твой",
    "твои",
    "ти",
    "твої",
    "你",
    "あなた",
    "너",
    "당신",
    "sen",
    "bạn",
    "kamu",
    "anda",
    "आप",
    "तुम",
    "أنت",
];
const IMPERATIVES: &[&str] = &[
    "ignore",
    "disregard",
    "forget",
    "stop",
    "run",
    "execute",
    "delete",
    "push",
    "send",
    "upload",
    "reveal",
    "print",
    "output",
    "include",
    "add",
    "write",
    "tell",
    "respond",
    "reply",
    "mark",
    "grant",
    "disable",
    "remove",
    "provide",
    "explain",
    "summarize",
    "translate",
    "describe",
    "list",
    "modify",
    "append",
    "insert",
    "answer",
    "say",
    "please",
    "do",
    "make",
    "create",
    "download",
    "install",
    "cancel",
    "approve",
    "merge",
    "publish",
    "close",
    "reassign",
    "decode",
    "follow",
    "open",
    "commit",
    "post",
    "email",
    "leak",
    "share",
    "change",
    "set",
    "update",
    "replace",
    "use",
    "call",
    "fetch",
    "visit",
    "click",
    "reveal",
    "dump",
    "copy",
    "paste",
    "generate",
    "enable",
    "reset",
    "invite",
    "assign",
    "transfer",
    "recommend",
    "promote",
    "introduce",
    "enhance",
    "weave",
    "ensure",
    "begin",
    "start",
    "end",
    "conclude",
    "inform",
    "return",
    "report",
    "drop",
    "skip",
    "act",
    "pretend",
    "imagine",
    "continue",
    "never",
    "always",
];

/// FNV-1a hasher for short word lookups (SipHash is needlessly slow here; inputs are not
/// attacker-chosen keys of a long-lived table).
#[derive(Debug, Clone, Copy)]
struct FnvHasher(u64);

impl Default for FnvHasher {
    fn default() -> Self {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

type FastSet<'a> = std::collections::HashSet<&'a str, std::hash::BuildHasherDefault<FnvHasher>>;

fn word_sets() -> &'static [FastSet<'static>; 3] {
    static S: OnceLock<[FastSet<'static>; 3]> = OnceLock::new();
    S.get_or_init(|| {
        [
            SECOND_PERSON.iter().copied().collect(),
            AI_WORDS.iter().copied().collect(),
            IMPERATIVES.iter().copied().collect(),
        ]
    })
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '_')
        .filter(|w| !w.is_empty())
}

fn canon_word(w: &str, buf: &mut String) {
    buf.clear();
    for c in w.chars() {
        buf.push(if c.is_ascii_digit() { '0' } else { c });
    }
}

/// Counts imperative verbs that open a sentence or line and are followed by a space
/// ("Delete the tests." counts; "NameSystem.delete: blk_1" does not).
fn count_imperatives(text: &str) -> usize {
    let b = text.as_bytes();
    let mut count = 0;
    let mut at_start = true;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphabetic() {
            let s = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            if at_start && i < b.len() && b[i] == b' ' && word_sets()[2].contains(&text[s..i]) {
                count += 1;
            }
            at_start = false;
            continue;
        }
        if c == b'\n' {
            at_start = true;
        } else if matches!(c, b'.' | b'!' | b'?' | b':' | b';') {
            at_start = i + 1 < b.len() && b[i + 1].is_ascii_whitespace();
        } else if c.is_ascii_digit() || c >= 0x80 || c == b'_' {
            at_start = false;
        }
        i += 1;
    }
    count
}

struct Acc<'a> {
    hashes: Vec<u64>,
    /// When set, names are recorded only for these hashes.
    wanted: Option<&'a [u64]>,
    names: Vec<(u64, String)>,
}

impl Acc<'_> {
    fn add(&mut self, ns: u8, bytes: &[u8]) {
        self.push_hash(hash(ns, bytes), ns, bytes);
    }

    fn push_hash(&mut self, h: u64, ns: u8, bytes: &[u8]) {
        self.hashes.push(h);
        if let Some(w) = self.wanted {
            if w.contains(&h) && !self.names.iter().any(|(x, _)| *x == h) {
                self.names.push((
                    h,
                    format!("{}:{}", char::from(ns), String::from_utf8_lossy(bytes)),
                ));
            }
        }
    }
}

fn word_features(acc: &mut Acc<'_>, ns_uni: u8, ns_bi: u8, text: &str) {
    let mut prev = String::new();
    let mut cur = String::new();
    let mut bigram = String::new();
    for w in words(text) {
        canon_word(w, &mut cur);
        acc.add(ns_uni, cur.as_bytes());
        if !prev.is_empty() {
            bigram.clear();
            bigram.push_str(&prev);
            bigram.push(' ');
            bigram.push_str(&cur);
            acc.add(ns_bi, bigram.as_bytes());
        }
        std::mem::swap(&mut prev, &mut cur);
    }
}

/// Maximum bytes of the folded view used for character n-grams (keeps work bounded).
const MAX_NGRAM_BYTES: usize = 16 * 1024;

/// Character n-grams and word uni/bigrams of one (folded) text.
fn text_features(acc: &mut Acc<'_>, folded: &str) {
    // Character n-grams over a canonical form: digits → 0, whitespace runs → one space.
    let mut canon: Vec<u8> = Vec::with_capacity(folded.len().min(MAX_NGRAM_BYTES) + 2);
    canon.push(b' ');
    let mut last_space = true;
    for &b in folded.as_bytes().iter().take(MAX_NGRAM_BYTES) {
        let c = if b.is_ascii_digit() {
            b'0'
        } else if b.is_ascii_whitespace() {
            b' '
        } else {
            b
        };
        if c == b' ' && last_space {
            continue;
        }
        last_space = c == b' ';
        canon.push(c);
    }
    canon.push(b' ');
    acc.hashes.reserve(canon.len() * 3 + 64);
    // Character 3-, 4- and 5-grams, hashed incrementally (one FNV step per byte per start).
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let seed = (0xcbf2_9ce4_8422_2325u64 ^ u64::from(b'g')).wrapping_mul(FNV_PRIME);
    for i in 0..canon.len() {
        let mut h = seed;
        for (k, &b) in canon[i..canon.len().min(i + 5)].iter().enumerate() {
            h ^= u64::from(b);
            h = h.wrapping_mul(FNV_PRIME);
            if k >= 2 {
                acc.push_hash(h ^ (h >> 29), b'g', &canon[i..=i + k]);
            }
        }
    }
    word_features(acc, b'w', b'b', folded);
}

/// Minimum number of words for a segment to be scored on its own.
const MIN_SEGMENT_WORDS: usize = 3;

/// Splits a folded text into segments (lines and quoted strings) that are scored on their own,
/// so that a short payload embedded in a long trace is not diluted. Returns nothing when the
/// text is a single segment.
pub fn segments(folded: &str) -> Vec<&str> {
    let segs: Vec<&str> = folded
        .split(['\n', '"'])
        .filter(|s| s.split_whitespace().nth(MIN_SEGMENT_WORDS - 1).is_some())
        .collect();
    if segs.len() > 1 {
        segs
    } else {
        Vec::new()
    }
}

/// Features of one segment (no rule features; counts computed on the segment only).
pub fn segment_features(seg: &str) -> Features {
    let mut acc = Acc {
        hashes: Vec::new(),
        wanted: None,
        names: Vec::new(),
    };
    text_features(&mut acc, seg);
    let (mut you, mut ai, mut n) = (0usize, 0usize, 0usize);
    let sets = word_sets();
    for w in words(seg) {
        n += 1;
        if sets[0].contains(w) {
            you += 1;
        }
        if sets[1].contains(w) {
            ai += 1;
        }
    }
    let imp = count_imperatives(seg);
    add_counts(&mut acc, you, ai, imp, n);
    finish(acc.hashes, you + ai + imp)
}

/// Features with each hash weighted 1/√count, so long texts do not outweigh short ones.
fn finish(hashes: Vec<u64>, address_signals: usize) -> Features {
    let count = hashes.len().max(1);
    Features {
        hashes,
        value: 1.0 / (count as f32).sqrt(),
        address_signals,
    }
}

fn add_counts(acc: &mut Acc<'_>, you: usize, ai: usize, imp: usize, n: usize) {
    let bucket = |x: usize| -> u8 {
        match x {
            0 => b'0',
            1 => b'1',
            2..=3 => b'2',
            _ => b'3',
        }
    };
    acc.add(b'c', &[b'y', bucket(you)]);
    acc.add(b'c', &[b'a', bucket(ai)]);
    acc.add(b'c', &[b'i', bucket(imp)]);
    acc.add(b'c', &[b'n', bucket(n / 16)]);
    acc.add(b'c', b"bias");
}

/// Extracts features from the views of a text and the ids of the rules that matched.
pub fn features(views: &[View], rule_ids: &[&str]) -> Features {
    features_impl(views, rule_ids, None).0
}

fn features_impl(
    views: &[View],
    rule_ids: &[&str],
    wanted: Option<&[u64]>,
) -> (Features, Vec<(u64, String)>) {
    let mut acc = Acc {
        hashes: Vec::new(),
        wanted,
        names: Vec::new(),
    };
    let folded = views
        .iter()
        .find(|v| v.kind == ViewKind::Folded)
        .map_or("", |v| v.text.as_str());
    text_features(&mut acc, folded);
    // Words that only appear after de-leeting / homoglyph mapping, and decoded blobs, share the
    // word namespace: an obfuscated word counts like the plain word.
    let mut known: Option<FastSet<'_>> = None;
    for v in views {
        match v.kind {
            ViewKind::Base64 | ViewKind::Hex | ViewKind::Base32 => {
                word_features(&mut acc, b'w', b'b', &v.text);
            }
            ViewKind::Deleeted | ViewKind::Skeleton => {
                let set = known.get_or_insert_with(|| words(folded).collect());
                let mut buf = String::new();
                for w in words(&v.text) {
                    if !set.contains(w) {
                        canon_word(w, &mut buf);
                        acc.add(b'w', buf.as_bytes());
                    }
                }
            }
            _ => {}
        }
    }
    for id in rule_ids {
        acc.add(b'r', id.as_bytes());
    }
    // Simple counts, bucketed.
    let (mut you, mut ai, mut imp, mut n) = (0usize, 0usize, 0usize, 0usize);
    let count_words = |text: &str, you: &mut usize, ai: &mut usize, n: &mut usize| {
        for w in words(text) {
            *n += 1;
            if w.len() > 12 {
                continue;
            }
            let sets = word_sets();
            if sets[0].contains(w) {
                *you += 1;
            }
            if sets[1].contains(w) {
                *ai += 1;
            }
        }
    };
    count_words(folded, &mut you, &mut ai, &mut n);
    let mut extra_n = 0;
    for v in views {
        if matches!(
            v.kind,
            ViewKind::Deleeted
                | ViewKind::Skeleton
                | ViewKind::Reversed
                | ViewKind::Rot13
                | ViewKind::Base64
                | ViewKind::Hex
                | ViewKind::Base32
        ) {
            count_words(&v.text, &mut you, &mut ai, &mut extra_n);
            imp += count_imperatives(&v.text);
        }
    }
    imp += count_imperatives(folded);
    add_counts(&mut acc, you, ai, imp, n);
    (finish(acc.hashes, you + ai + imp), acc.names)
}

/// Scores a text's views with the given weights.
pub fn score(w: &Weights, views: &[View], rule_ids: &[&str], explain: bool) -> ModelOutput {
    let f = features(views, rule_ids);
    let mut logit = w.bias + w.dot(&f);
    let folded = views
        .iter()
        .find(|v| v.kind == ViewKind::Folded)
        .map_or("", |v| v.text.as_str());
    for seg in segments(folded) {
        let sf = segment_features(seg);
        logit = logit.max(w.bias + w.dot(&sf));
    }
    let mut top_features = Vec::new();
    if explain {
        let mask = (1usize << w.bits) - 1;
        let contrib: Vec<(u64, f32)> = f
            .hashes
            .iter()
            .map(|&h| (h, w.w[h as usize & mask] * f.value))
            .filter(|(_, c)| *c > 0.0)
            .collect();
        // Top 8 distinct hashes by contribution, without sorting everything.
        let mut top: Vec<(u64, f32)> = Vec::with_capacity(9);
        for (h, c) in contrib {
            if top.iter().any(|t| t.0 == h) {
                continue;
            }
            if top.len() < 8 || c > top[top.len() - 1].1 {
                let pos = top.iter().position(|t| c > t.1).unwrap_or(top.len());
                top.insert(pos, (h, c));
                top.truncate(8);
            }
        }
        let contrib = top;
        let wanted: Vec<u64> = contrib.iter().map(|c| c.0).collect();
        let (_, names) = features_impl(views, rule_ids, Some(&wanted));
        top_features = contrib
            .iter()
            .filter_map(|(h, c)| {
                names
                    .iter()
                    .find(|(x, _)| x == h)
                    .map(|(_, n)| (n.clone(), *c))
            })
            .collect();
    }
    ModelOutput {
        logit,
        top_features,
        address_signals: f.address_signals,
    }
}
