use super::*;
use crate::AlimTalkPlugin;

fn fields(m: &Message) -> Vec<(String, String)> {
    AlimTalkPlugin::validate(m)
        .into_iter()
        .map(|v| (v.code, v.field))
        .collect()
}

fn one(code: &str, field: &str) -> Vec<(String, String)> {
    vec![(code.to_string(), field.to_string())]
}

#[test]
fn a_template_message_to_a_korean_mobile_is_valid_and_quoted() {
    let m = message("+821012345678");
    assert!(AlimTalkPlugin::validate(&m).is_empty());
    let q = AlimTalkPlugin::quote(&m).unwrap();
    assert_eq!(
        (
            q.product.as_str(),
            q.units,
            q.encoding.as_str(),
            q.country.as_deref()
        ),
        ("alimtalk", 1, "utf-8", Some("KR"))
    );
}

#[test]
fn recipient_rules() {
    let mut m = message("+821012345678");
    m.to.phone = None;
    assert_eq!(fields(&m), one("required", "to.phone"));
    m.to.phone = Some(String::new());
    assert_eq!(fields(&m), one("required", "to.phone"));
    let m = message("+14155550100");
    assert_eq!(fields(&m), one("unsupported_country", "to.phone"));
    let m = message("+82212345678");
    assert_eq!(fields(&m), one("invalid_format", "to.phone"));
    assert!(AlimTalkPlugin::quote(&m).is_err());
}

#[test]
fn template_rules() {
    let mut m = message("+821012345678");
    m.content.template = None;
    assert_eq!(fields(&m), one("required", "content.template"));
    let mut m = message("+821012345678");
    if let Some(t) = m.content.template.as_mut() {
        t.id = " ".into();
    }
    assert_eq!(fields(&m), one("required", "content.template.id"));
    let mut m = message("+821012345678");
    if let Some(t) = m.content.template.as_mut() {
        t.variables = vec![
            ("#{name}".into(), "a".into()),
            ("name".into(), "b".into()),
            ("#{}".into(), "c".into()),
            ("{order}".into(), "d".into()),
        ];
    }
    assert_eq!(
        fields(&m),
        vec![
            (
                "invalid_format".into(),
                "content.template.variables[1]".into()
            ),
            (
                "invalid_format".into(),
                "content.template.variables[2]".into()
            ),
            (
                "invalid_format".into(),
                "content.template.variables[3]".into()
            ),
        ]
    );
}

#[test]
fn button_rules() {
    let mut m = message("+821012345678");
    m.content.buttons = (0..6).map(|i| button(&format!("b{i}"), None)).collect();
    assert_eq!(fields(&m), one("too_many", "content.buttons"));
    let mut m = message("+821012345678");
    m.content.buttons = vec![
        button("배송 조회하기", Some("https://shop.example/t")),
        button("가나다라마바사아자차카타파하거", None),
        button("", None),
    ];
    assert_eq!(
        fields(&m),
        vec![
            ("too_long".into(), "content.buttons[1].title".into()),
            ("required".into(), "content.buttons[2].title".into()),
        ]
    );
    // Fourteen Hangul characters are 42 bytes but within the limit.
    m.content.buttons = vec![button("가나다라마바사아자차카타파하", None)];
    assert!(fields(&m).is_empty());
}

#[test]
fn text_and_unsupported_content() {
    let mut m = message("+821012345678");
    m.content.text = Some("  ".into());
    assert_eq!(fields(&m), one("required", "content.text"));
    m.content.text = Some("가".repeat(1001));
    assert_eq!(fields(&m), one("too_long", "content.text"));
    let mut m = message("+821012345678");
    m.content.media = vec![Media {
        kind: MediaKind::Image,
        url: "https://x/y.png".into(),
        mime_type: "image/png".into(),
        size: 10,
    }];
    m.content.carousel = vec![CarouselElement {
        title: "t".into(),
        subtitle: None,
        image_url: None,
        buttons: vec![],
    }];
    m.content.quick_replies = vec![QuickReply {
        title: "q".into(),
        payload: "p".into(),
        image_url: None,
    }];
    m.content.subject = Some("s".into());
    assert_eq!(
        fields(&m),
        vec![
            ("unsupported".into(), "content.media".into()),
            ("unsupported".into(), "content.carousel".into()),
            ("unsupported".into(), "content.quick_replies".into()),
            ("unsupported".into(), "content.subject".into()),
        ]
    );
}

#[test]
fn manifest_declares_the_contract() {
    let m = AlimTalkPlugin::describe();
    assert_eq!(
        (m.channel.as_str(), m.name.as_str()),
        ("alimtalk", "solapi-alimtalk")
    );
    let keys: Vec<_> = m
        .config_keys
        .iter()
        .map(|k| (k.name.as_str(), k.secret, k.required))
        .collect();
    assert_eq!(
        keys,
        [
            ("api_key", false, true),
            ("api_secret", true, true),
            ("pf_id", false, true),
            ("sender", false, true),
            ("base_url", false, false),
        ]
    );
    let l = &m.limits;
    assert_eq!(l.max_buttons, 5);
    assert_eq!(
        (
            l.max_text_bytes,
            l.max_media,
            l.max_carousel_elements,
            l.max_quick_replies
        ),
        (0, 0, 0, 0)
    );
    assert!(l.media_rules.is_empty());
    assert_eq!(m.outbound_hosts, ["https://api.solapi.com"]);
}
