//! How a text is encoded on the air and how many billable units it costs.
//!
//! International SMS uses GSM-7 when every character is in the GSM 03.38 alphabet (extension
//! characters cost two septets: ESC plus code) and UCS-2 otherwise. A long message is split
//! into concatenated segments with a user-data header, which leaves 153 septets or 67 UCS-2
//! units per segment. A split never falls inside an escape pair or a surrogate pair, so a
//! segment may carry one unit less than its capacity.
//!
//! Korean carriers bill differently: text is EUC-KR bytes, up to 90 bytes is an SMS, up to
//! 2,000 bytes an LMS (one unit either way), and a character outside EUC-KR cannot be sent.

/// The GSM 03.38 basic character set, in code order (0x1B, the escape, is left out).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Characters reached through the escape: each costs two septets.
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{000C}";

pub const GSM7_SINGLE: usize = 160;
pub const GSM7_PER_SEGMENT: usize = 153;
pub const UCS2_SINGLE: usize = 70;
pub const UCS2_PER_SEGMENT: usize = 67;
pub const KR_SMS_MAX_BYTES: usize = 90;
pub const KR_LMS_MAX_BYTES: usize = 2000;
pub const KR_SUBJECT_MAX_BYTES: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
    EucKr,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm-7",
            Encoding::Ucs2 => "ucs-2",
            Encoding::EucKr => "euc-kr",
        }
    }
}

/// The outcome for an international (non-Korean) SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segmentation {
    pub encoding: Encoding,
    /// Septets for GSM-7, UTF-16 code units for UCS-2.
    pub units: usize,
    pub segments: u32,
}

/// GSM-7 septet cost of one character, or `None` if it is not in the alphabet.
fn gsm7_cost(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The encoding a text needs, every character's cost in it and that encoding's budgets.
struct Costs {
    encoding: Encoding,
    per_char: Vec<usize>,
    single: usize,
    per_segment: usize,
}

fn costs(text: &str) -> Costs {
    match text.chars().map(gsm7_cost).collect::<Option<Vec<usize>>>() {
        Some(per_char) => Costs {
            encoding: Encoding::Gsm7,
            per_char,
            single: GSM7_SINGLE,
            per_segment: GSM7_PER_SEGMENT,
        },
        None => Costs {
            encoding: Encoding::Ucs2,
            per_char: text.chars().map(char::len_utf16).collect(),
            single: UCS2_SINGLE,
            per_segment: UCS2_PER_SEGMENT,
        },
    }
}

/// Choose the encoding and count segments for an international SMS.
pub fn segment(text: &str) -> Segmentation {
    let costs = costs(text);
    Segmentation {
        encoding: costs.encoding,
        units: costs.per_char.iter().sum(),
        segments: segment_starts(&costs).len() as u32,
    }
}

/// The text of each segment, in order: what [`segment`] counts. An empty text is one empty
/// segment, as it is billed.
pub fn split(text: &str) -> Vec<&str> {
    let costs = costs(text);
    let starts = segment_starts(&costs);
    // Byte offset of every character, plus the end, to cut at character boundaries.
    let offsets: Vec<usize> = text
        .char_indices()
        .map(|(at, _)| at)
        .chain([text.len()])
        .collect();
    let ends = starts.iter().skip(1).copied().chain([costs.per_char.len()]);
    starts
        .iter()
        .zip(ends)
        .map(|(&from, to)| &text[offsets[from]..offsets[to]])
        .collect()
}

/// Greedy packing that never splits one character's units across two segments: the index
/// (in characters) where each segment starts. Greedy is optimal here because the order is
/// fixed: filling a segment as far as it goes never makes a later one start later.
fn segment_starts(costs: &Costs) -> Vec<usize> {
    let mut starts = vec![0];
    if costs.per_char.iter().sum::<usize>() <= costs.single {
        return starts;
    }
    let mut used = 0usize;
    for (index, &cost) in costs.per_char.iter().enumerate() {
        if used + cost > costs.per_segment {
            starts.push(index);
            used = 0;
        }
        used += cost;
    }
    starts
}

/// A character that EUC-KR cannot carry, with its position in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unencodable {
    pub ch: char,
    pub index: usize,
}

/// Byte length of `text` in EUC-KR, or the first character it cannot encode.
pub fn euc_kr_len(text: &str) -> Result<usize, Unencodable> {
    let mut total = 0;
    let mut buf = [0u8; 8];
    for (index, ch) in text.chars().enumerate() {
        let s = ch.encode_utf8(&mut buf);
        let (bytes, _, had_errors) = encoding_rs::EUC_KR.encode(s);
        if had_errors {
            return Err(Unencodable { ch, index });
        }
        total += bytes.len();
    }
    Ok(total)
}

/// Korean product choice by EUC-KR byte length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KoreanProduct {
    Sms,
    Lms,
    TooLong,
}

pub fn korean_product(bytes: usize, has_subject: bool) -> KoreanProduct {
    if bytes <= KR_SMS_MAX_BYTES && !has_subject {
        KoreanProduct::Sms
    } else if bytes <= KR_LMS_MAX_BYTES {
        KoreanProduct::Lms
    } else {
        KoreanProduct::TooLong
    }
}

#[cfg(test)]
#[path = "encoding_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_at_160_is_one_segment_and_161_is_two() {
        let s = segment(&"a".repeat(160));
        assert_eq!((s.encoding, s.units, s.segments), (Encoding::Gsm7, 160, 1));
        let s = segment(&"a".repeat(161));
        assert_eq!((s.encoding, s.units, s.segments), (Encoding::Gsm7, 161, 2));
        assert_eq!(segment(&"a".repeat(306)).segments, 2);
        assert_eq!(segment(&"a".repeat(307)).segments, 3);
    }

    #[test]
    fn extension_characters_cost_two_septets() {
        // 80 euro signs are 160 septets: still one message.
        let s = segment(&"€".repeat(80));
        assert_eq!((s.encoding, s.units, s.segments), (Encoding::Gsm7, 160, 1));
        let s = segment(&format!("{}{}", "€".repeat(80), "a"));
        assert_eq!((s.units, s.segments), (161, 2));
        for c in "^{}\\[~]|€\u{000C}".chars() {
            assert_eq!(segment(&c.to_string()).units, 2, "{c:?}");
        }
    }

    #[test]
    fn escape_pairs_are_not_split_across_segments() {
        // 152 plain septets then a 2-septet char: it cannot fit in the first segment's last
        // septet, so it moves whole into the second.
        let text = format!("{}{}{}", "a".repeat(152), "€", "a".repeat(10));
        let s = segment(&text);
        assert_eq!(s.units, 164);
        assert_eq!(s.segments, 2);
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(151));
        // 152 | 2+151 = 153: exactly two segments.
        assert_eq!(segment(&text).segments, 2);
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(segment(&text).segments, 3);
    }

    #[test]
    fn ucs2_with_emoji_counts_surrogate_pairs() {
        let s = segment("hello 👋");
        assert_eq!(s.encoding, Encoding::Ucs2);
        assert_eq!(s.units, 8);
        assert_eq!(s.segments, 1);
        // 35 emoji = 70 units: one message; 36 = 72 units: two segments.
        assert_eq!(segment(&"😀".repeat(35)).segments, 1);
        let s = segment(&"😀".repeat(36));
        assert_eq!((s.units, s.segments), (72, 2));
        // 66 units then a surrogate pair: the pair moves to the second segment.
        let text = format!("{}😀", "é".repeat(0) + &"ж".repeat(66));
        assert_eq!(segment(&text).segments, 1); // 68 <= 70
        let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(3));
        assert_eq!(segment(&text).segments, 2);
    }

    #[test]
    fn one_non_gsm_character_switches_everything_to_ucs2() {
        let s = segment(&format!("{}ж", "a".repeat(69)));
        assert_eq!((s.encoding, s.units, s.segments), (Encoding::Ucs2, 70, 1));
        let s = segment(&format!("{}ж", "a".repeat(70)));
        assert_eq!((s.encoding, s.units, s.segments), (Encoding::Ucs2, 71, 2));
    }

    #[test]
    fn korean_bytes_pick_sms_or_lms() {
        // Hangul is 2 bytes in EUC-KR: 45 syllables = 90 bytes.
        let t90 = "가".repeat(45);
        assert_eq!(euc_kr_len(&t90), Ok(90));
        assert_eq!(korean_product(90, false), KoreanProduct::Sms);
        let t91 = format!("{t90}a");
        assert_eq!(euc_kr_len(&t91), Ok(91));
        assert_eq!(korean_product(91, false), KoreanProduct::Lms);
        let t2000 = "가".repeat(1000);
        assert_eq!(euc_kr_len(&t2000), Ok(2000));
        assert_eq!(korean_product(2000, false), KoreanProduct::Lms);
        assert_eq!(korean_product(2001, false), KoreanProduct::TooLong);
        // A subject makes it an LMS whatever the length.
        assert_eq!(korean_product(10, true), KoreanProduct::Lms);
    }

    #[test]
    fn characters_outside_euc_kr_are_reported_with_position() {
        assert_eq!(
            euc_kr_len("안녕 😀"),
            Err(Unencodable {
                ch: '😀', index: 3
            })
        );
    }
}
