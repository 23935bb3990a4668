//! Twilio request signing (`X-Twilio-Signature`). Public because tests elsewhere forge good and
//! bad callbacks with it; the algorithm must stay identical to Twilio's helper libraries, which
//! sort parameters by key and concatenate raw (not URL-encoded) keys and values after the URL.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// `base64(HMAC-SHA1(auth_token, url + k1 + v1 + k2 + v2 …))` with parameters sorted by key
/// (then by value, so repeated keys give a stable order). `url` is used exactly as given.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = String::from(url);
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    // HMAC accepts keys of any length, so this constructor cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn published_test_vector() {
        // Deliberately unsorted: the function must sort.
        let params = [
            p("To", "+18005551212"),
            p("CallSid", "CA1234567890ABCDE"),
            p("From", "+12349013030"),
            p("Digits", "1234"),
            p("Caller", "+12349013030"),
        ];
        assert_eq!(
            twilio_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let params = [p("MessageSid", "SM1"), p("MessageStatus", "sent")];
        let good = twilio_signature("tok", "http://h/cb", &params);
        assert_ne!(good, twilio_signature("tok2", "http://h/cb", &params));
        assert_ne!(good, twilio_signature("tok", "http://h/cb2", &params));
        assert_ne!(
            good,
            twilio_signature("tok", "http://h/cb", &[p("MessageSid", "SM1")])
        );
    }
}
