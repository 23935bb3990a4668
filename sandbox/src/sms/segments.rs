//! SMS segment counting, so `num_segments` in the simulated response matches what a carrier
//! would bill. Gateways use this number for cost accounting and for their own splitting logic,
//! so the edge cases (escape pairs, surrogate pairs at a segment boundary) matter.

/// Character set the message would be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }
}

/// The GSM 03.38 default alphabet (one septet each).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// Characters reachable through the escape table; each costs ESC + code = 2 septets.
const GSM7_EXTENSION: &str = "\u{0C}^{}\\[~]|€";

fn gsm7_cost(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Encoding and number of segments for `body`. An empty body still counts as one segment,
/// as Twilio reports for media-only messages.
pub fn count(body: &str) -> (Encoding, usize) {
    let gsm: Option<Vec<usize>> = body.chars().map(gsm7_cost).collect();
    match gsm {
        Some(costs) => (Encoding::Gsm7, pack(&costs, 160, 153)),
        None => {
            let costs: Vec<usize> = body.chars().map(char::len_utf16).collect();
            (Encoding::Ucs2, pack(&costs, 70, 67))
        }
    }
}

/// Greedy packing that never splits one character's units (escape pair or surrogate pair)
/// across two segments; that can add a segment compared to a plain division.
fn pack(costs: &[usize], single: usize, per_part: usize) -> usize {
    let total: usize = costs.iter().sum();
    if total <= single {
        return 1;
    }
    let mut parts = 1;
    let mut used = 0;
    for &c in costs {
        if used + c > per_part {
            parts += 1;
            used = 0;
        }
        used += c;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_boundaries() {
        assert_eq!(count(""), (Encoding::Gsm7, 1));
        assert_eq!(count("hello"), (Encoding::Gsm7, 1));
        assert_eq!(count(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(count(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(count(&"a".repeat(306)), (Encoding::Gsm7, 2));
        assert_eq!(count(&"a".repeat(307)), (Encoding::Gsm7, 3));
    }

    #[test]
    fn gsm7_extension_chars_cost_two() {
        assert_eq!(count(&"€".repeat(80)), (Encoding::Gsm7, 1));
        assert_eq!(count(&"€".repeat(81)), (Encoding::Gsm7, 2));
        assert_eq!(count("\u{0C}^{}\\[~]|"), (Encoding::Gsm7, 1));
        // 152 plain + one escape pair: the pair does not fit in the first part's last septet.
        let body = format!("{}{}{}", "a".repeat(152), "{", "a".repeat(10));
        assert_eq!(count(&body), (Encoding::Gsm7, 2));
        let body = format!("{}{}{}", "a".repeat(152), "{", "a".repeat(152));
        assert_eq!(count(&body), (Encoding::Gsm7, 3));
    }

    #[test]
    fn ucs2_boundaries() {
        assert_eq!(count(&"é".repeat(10)), (Encoding::Gsm7, 1));
        assert_eq!(count(&"ж".repeat(70)), (Encoding::Ucs2, 1));
        assert_eq!(count(&"ж".repeat(71)), (Encoding::Ucs2, 2));
        assert_eq!(count(&"ж".repeat(134)), (Encoding::Ucs2, 2));
        assert_eq!(count(&"ж".repeat(135)), (Encoding::Ucs2, 3));
        // One non-GSM character switches everything to UCS-2.
        assert_eq!(count(&format!("{}ж", "a".repeat(69))), (Encoding::Ucs2, 1));
        assert_eq!(count(&format!("{}ж", "a".repeat(70))), (Encoding::Ucs2, 2));
    }

    #[test]
    fn surrogate_pairs_are_not_split() {
        assert_eq!(count(&"😀".repeat(35)), (Encoding::Ucs2, 1));
        assert_eq!(count(&"😀".repeat(36)), (Encoding::Ucs2, 2));
        // 66 units then an emoji: the pair moves to the next part.
        let body = format!("{}😀{}", "ж".repeat(66), "ж".repeat(66));
        assert_eq!(count(&body), (Encoding::Ucs2, 3));
    }
}
