//! E.164 to the Korean domestic form Solapi takes (`+821012345678` → `01012345678`).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneError {
    /// Not a +82 number: AlimTalk only reaches Korean KakaoTalk accounts.
    NotKorean,
    /// A +82 number that is not a mobile number, or not a number at all.
    NotMobile,
}

impl std::fmt::Display for PhoneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PhoneError::NotKorean => "AlimTalk only reaches Korean (+82) numbers",
            PhoneError::NotMobile => "not a Korean mobile number (010, 011, 016-019)",
        })
    }
}

/// `+82 10 1234 5678` → `01012345678`. KakaoTalk accounts are registered to mobile numbers
/// (010, 011, 016-019), so anything else cannot receive AlimTalk.
pub fn domestic_mobile(e164: &str) -> Result<String, PhoneError> {
    let national = e164
        .trim()
        .strip_prefix("+82")
        .ok_or(PhoneError::NotKorean)?;
    // E.164 drops the trunk prefix 0; some senders keep it (+82010…), which is tolerated.
    let national = national.strip_prefix('0').unwrap_or(national);
    if !national.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PhoneError::NotMobile);
    }
    let domestic = format!("0{national}");
    let mobile_prefix = ["010", "011", "016", "017", "018", "019"]
        .iter()
        .any(|p| domestic.starts_with(p));
    if mobile_prefix && (10..=11).contains(&domestic.len()) {
        Ok(domestic)
    } else {
        Err(PhoneError::NotMobile)
    }
}

/// A registered sender number in either form (`0212345678`, `02-1234-5678` or E.164) as the
/// digits Solapi expects.
pub fn domestic_sender(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix("82") {
        Some(rest) if number.trim_start().starts_with('+') => {
            format!("0{}", rest.strip_prefix('0').unwrap_or(rest))
        }
        _ => digits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_mobiles_only() {
        assert_eq!(
            domestic_mobile("+821012345678").as_deref(),
            Ok("01012345678")
        );
        assert_eq!(
            domestic_mobile("+8201012345678").as_deref(),
            Ok("01012345678")
        );
        assert_eq!(domestic_mobile("+82111234567").as_deref(), Ok("0111234567"));
        assert_eq!(domestic_mobile("+14155550100"), Err(PhoneError::NotKorean));
        assert_eq!(domestic_mobile("01012345678"), Err(PhoneError::NotKorean));
        assert_eq!(domestic_mobile("+82212345678"), Err(PhoneError::NotMobile));
        assert_eq!(domestic_mobile("+8210123"), Err(PhoneError::NotMobile));
        assert_eq!(
            domestic_mobile("+8210-1234-5678"),
            Err(PhoneError::NotMobile)
        );
    }

    #[test]
    fn senders_in_any_form() {
        assert_eq!(domestic_sender("0212345678"), "0212345678");
        assert_eq!(domestic_sender("02-1234-5678"), "0212345678");
        assert_eq!(domestic_sender("+82212345678"), "0212345678");
        assert_eq!(domestic_sender("1588-0000"), "15880000");
    }
}
