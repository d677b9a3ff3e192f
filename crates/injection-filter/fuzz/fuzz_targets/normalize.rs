//! `views()` on arbitrary UTF-8: no panic, and every view's offsets map back inside the
//! original text, on character boundaries. The views the scanner builds are the same views.
#![no_main]

use faultline_injection_filter::normalize::{views, views_with, Derived};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let all = views(text);
    for v in &all {
        let n = v.text.len();
        let mut ranges = vec![0..n, n..n, n..n + 3, 0..0];
        for (i, c) in v.text.char_indices() {
            ranges.push(i..i + c.len_utf8());
            ranges.push(i..i);
            // Ranges that split a character must map inside the original too.
            ranges.push(i + 1..n);
        }
        for r in ranges {
            let o = v.to_original(r.clone());
            assert!(
                o.start <= o.end && o.end <= text.len(),
                "{:?} {r:?} -> {o:?} outside {} bytes",
                v.kind,
                text.len()
            );
            assert!(
                text.is_char_boundary(o.start) && text.is_char_boundary(o.end),
                "{:?} {r:?} -> {o:?} splits a character",
                v.kind
            );
        }
    }
    // Building only some derived views changes nothing about the others.
    let none = Derived {
        despaced: false,
        reversed: false,
        rot13: false,
    };
    let some = views_with(text, |_| none);
    for v in &some {
        let same = all
            .iter()
            .find(|a| a.kind == v.kind)
            .expect("view in the full list");
        assert_eq!(same.text, v.text, "{:?}", v.kind);
    }
});
