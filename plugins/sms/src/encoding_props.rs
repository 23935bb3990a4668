//! Properties of the segmenter and the EUC-KR length, over generated texts.
//!
//! Texts are built from weighted character classes so that both encodings, escape pairs,
//! surrogate pairs and the 160/153 and 70/67 boundaries come up often; a uniformly random
//! `char` would make almost every text UCS-2 and short of a boundary.

use proptest::prelude::*;

use super::*;

/// Per-case limit: generous for a loaded 2-core machine; it bounds pathological blowups,
/// it does not measure speed.
const CASE_TIMEOUT_MS: u32 = 5_000;

fn config() -> ProptestConfig {
    ProptestConfig {
        timeout: CASE_TIMEOUT_MS,
        ..ProptestConfig::default()
    }
}

fn gsm_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => prop::sample::select(GSM7_BASIC.chars().collect::<Vec<_>>()),
        2 => prop::sample::select(GSM7_EXTENSION.chars().collect::<Vec<_>>()),
    ]
}

fn any_text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => gsm_char(),
        // Cyrillic and Hangul: one UTF-16 unit, outside GSM-7.
        1 => prop::char::range('а', 'я'),
        1 => prop::char::range('가', '힣'),
        // Astral: a surrogate pair in UTF-16.
        1 => prop::char::range('\u{1F600}', '\u{1F64F}'),
        1 => any::<char>(),
    ]
}

/// Mostly-GSM texts stay GSM-7 (one stray character would make them UCS-2), mixed ones
/// exercise UCS-2; up to 700 characters is several segments either way.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(gsm_char(), 0..700).prop_map(String::from_iter),
        prop::collection::vec(any_text_char(), 0..400).prop_map(String::from_iter),
    ]
}

/// A character's cost, computed from the standard's definition rather than the segmenter's
/// own bookkeeping: septets for GSM-7, UTF-16 code units for UCS-2.
fn cost(encoding: Encoding, c: char) -> usize {
    match encoding {
        Encoding::Gsm7 => gsm7_cost(c).expect("a GSM-7 text has only GSM-7 characters"),
        _ => c.encode_utf16(&mut [0; 2]).len(),
    }
}

fn units(encoding: Encoding, s: &str) -> usize {
    s.chars().map(|c| cost(encoding, c)).sum()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn segments_reproduce_the_text_and_fit_their_budget(text in text()) {
        let seg = segment(&text);
        let parts = split(&text);
        prop_assert_eq!(parts.concat(), text.as_str());
        prop_assert_eq!(parts.len(), seg.segments as usize);

        let gsm = text.chars().all(|c| gsm7_cost(c).is_some());
        prop_assert_eq!(seg.encoding, if gsm { Encoding::Gsm7 } else { Encoding::Ucs2 });
        let (single, per_segment) = if gsm {
            (GSM7_SINGLE, GSM7_PER_SEGMENT)
        } else {
            (UCS2_SINGLE, UCS2_PER_SEGMENT)
        };
        prop_assert_eq!(seg.units, units(seg.encoding, &text));
        if !gsm {
            prop_assert_eq!(seg.units, text.encode_utf16().count());
        }

        if seg.units <= single {
            prop_assert_eq!(seg.segments, 1);
        } else {
            for (i, part) in parts.iter().enumerate() {
                let used = units(seg.encoding, part);
                prop_assert!(used <= per_segment, "segment {} holds {} units", i, used);
                prop_assert!(!part.is_empty(), "segment {} is empty", i);
                // Greedy and never wasteful: a segment is only closed when the next
                // character (a whole escape or surrogate pair) does not fit.
                if let Some(next) = parts.get(i + 1) {
                    let first = next.chars().next().unwrap();
                    prop_assert!(used + cost(seg.encoding, first) > per_segment);
                }
            }
            // At most one unit per segment is lost to a pair that did not fit.
            let at_least = seg.units.div_ceil(per_segment);
            let at_most = seg.units.div_ceil(per_segment - 1);
            prop_assert!((at_least..=at_most).contains(&(seg.segments as usize)));
        }
    }

    #[test]
    fn single_unit_texts_split_by_plain_division(n in 0usize..1000, ucs2 in any::<bool>()) {
        let (text, single, per_segment) = if ucs2 {
            ("ж".repeat(n), UCS2_SINGLE, UCS2_PER_SEGMENT)
        } else {
            ("a".repeat(n), GSM7_SINGLE, GSM7_PER_SEGMENT)
        };
        let expected = if n <= single { 1 } else { n.div_ceil(per_segment) };
        prop_assert_eq!(segment(&text).segments as usize, expected);
    }

    #[test]
    fn euc_kr_length_agrees_with_encoding_rs(
        text in prop::collection::vec(
            prop_oneof![
                4 => prop::char::range('가', '힣'),
                2 => prop::char::range(' ', '~'),
                1 => prop::char::range('一', '鿿'),
                1 => any::<char>(),
            ],
            0..200,
        ).prop_map(String::from_iter)
    ) {
        let (bytes, _, had_errors) = encoding_rs::EUC_KR.encode(&text);
        match euc_kr_len(&text) {
            Ok(n) => {
                prop_assert!(!had_errors);
                prop_assert_eq!(n, bytes.len());
            }
            Err(Unencodable { ch, index }) => {
                prop_assert!(had_errors);
                prop_assert_eq!(text.chars().nth(index), Some(ch));
                // The first character that cannot be encoded, not just any.
                let prefix: String = text.chars().take(index).collect();
                prop_assert!(!encoding_rs::EUC_KR.encode(&prefix).2);
                prop_assert!(encoding_rs::EUC_KR.encode(&ch.to_string()).2);
            }
        }
    }

    #[test]
    fn korean_product_follows_the_byte_limits(bytes in 0usize..5000, subject in any::<bool>()) {
        let expected = if bytes > KR_LMS_MAX_BYTES {
            KoreanProduct::TooLong
        } else if bytes <= KR_SMS_MAX_BYTES && !subject {
            KoreanProduct::Sms
        } else {
            KoreanProduct::Lms
        };
        prop_assert_eq!(korean_product(bytes, subject), expected);
    }
}

/// The gateway bills the plugin's quote and the simulator reports `num_segments` from its own
/// counter, as Twilio does: two implementations of one rule, which must agree on every text.
mod against_the_simulator {
    use proptest::prelude::*;
    use switchboard_plugin_sdk::Plugin;
    use switchboard_sandbox::sms::segments;

    use super::{config, text};
    use crate::SmsPlugin;
    use crate::encoding::segment;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn plugin_quote_and_simulator_count_the_same_segments(text in text()) {
            let (sim_encoding, sim_segments) = segments::count(&text);
            let seg = segment(&text);
            prop_assert_eq!(seg.segments as usize, sim_segments);
            prop_assert!(seg.encoding.as_str().eq_ignore_ascii_case(sim_encoding.as_str()));
            if !text.is_empty() {
                let msg = crate::tests::message("+15005550006", "US", &text);
                let quote = SmsPlugin::quote(&msg).expect("a short international text is quotable");
                prop_assert_eq!(quote.units as usize, sim_segments);
                prop_assert_eq!(quote.encoding, seg.encoding.as_str());
            }
        }
    }
}
