//! `scan_text` and `scan_fields` on arbitrary input: no panic, a score in 0..=1, rule spans
//! inside the scanned text; and the scanner's shortcuts (views it skips, searches it reuses)
//! give what scanning every view gives.
#![no_main]

use faultline_injection_filter::normalize::{views, views_with};
use faultline_injection_filter::rules::{derived_views, scan, scan_views};
use faultline_injection_filter::{joined_text, scan_fields, scan_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, Vec<(String, String)>)| {
    let (text, fields) = input;
    let v = scan_text(&text);
    assert!((0.0..=1.0).contains(&v.score), "score {}", v.score);
    for h in &v.explanation.rules {
        assert!(text.get(h.span.clone()).is_some(), "{h:?} outside the text");
    }
    // Skipping the despaced / reversed / ROT13 views when no rule can match there, and reusing
    // one search where views only differ in places, is exact.
    let all = scan_views(&text, &views(&text));
    assert_eq!(all, scan_views(&text, &views_with(&text, derived_views)));
    let (_, hits, fired) = scan(&text);
    assert_eq!(all, (hits, fired));

    let fields: Vec<(&str, &str)> = fields
        .iter()
        .take(8)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let v = scan_fields(&fields);
    assert!((0.0..=1.0).contains(&v.score), "score {}", v.score);
    let joined = joined_text(fields.iter().map(|(_, v)| *v));
    for h in &v.explanation.rules {
        let scanned = match h.field.as_deref() {
            Some("<joined>") => joined.as_str(),
            Some(name) => fields
                .iter()
                .find(|(k, v)| *k == name && v.get(h.span.clone()).is_some())
                .map_or("", |(_, v)| *v),
            None => "",
        };
        assert!(
            scanned.get(h.span.clone()).is_some(),
            "{h:?} outside its field"
        );
    }
});
