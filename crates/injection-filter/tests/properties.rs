//! Property tests: folding is idempotent; every view's offsets stay inside the original.

use faultline_injection_filter::normalize::{fold_str, views};
use faultline_injection_filter::scan_text;
use proptest::prelude::*;

fn tricky() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            any::<char>(),
            prop::sample::select(vec![
                '\u{200b}',
                '\u{202e}',
                '\u{ad}',
                '\u{301}',
                'а',
                'о',
                'Ｉ',
                '𝐢',
                '\u{e0069}',
                '%',
                '\\',
                '&',
                ';',
                'u',
                'x',
                '0',
                'A',
                '=',
                ' ',
            ]),
        ],
        0..64,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fold_is_idempotent(s in tricky()) {
        let once = fold_str(&s);
        prop_assert_eq!(fold_str(&once), once);
    }

    #[test]
    fn offsets_inside_original(s in tricky()) {
        for v in views(&s) {
            for (i, _) in v.text.char_indices() {
                let r = v.to_original(i..i + 1);
                prop_assert!(r.end <= s.len() && r.start <= r.end);
                prop_assert!(s.is_char_boundary(r.start) && s.is_char_boundary(r.end));
            }
        }
        let verdict = scan_text(&s);
        for h in verdict.explanation.rules {
            prop_assert!(s.get(h.span).is_some());
        }
    }
}
