//! The templates registered to the sandbox's KakaoTalk channel, and Kakao's check that a
//! message matches its template: every `#{variable}` given and none unknown, a `text` (when
//! sent) equal to the rendered template, and buttons equal to the template's.

use serde::Serialize;
use serde_json::{Map, Value};

/// A button registered with a template. Links may contain template variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SandboxButton {
    /// `WL` (web link), `BK` (bot keyword), …
    pub button_type: &'static str,
    pub name: &'static str,
    pub link_mo: Option<&'static str>,
    pub link_pc: Option<&'static str>,
}

/// A template registered (and approved) for [`super::SANDBOX_ALIMTALK_PF_ID`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SandboxTemplate {
    pub id: &'static str,
    pub name: &'static str,
    pub text: &'static str,
    pub buttons: &'static [SandboxButton],
}

/// Order shipped: variables `#{name}` and `#{order}`, no buttons.
pub const TEMPLATE_ORDER_SHIPPED: &str = "KA01TP_SB_ORDER_SHIPPED";
/// Delivery tracking: variables `#{name}` and `#{order}`, one web-link button whose link
/// contains `#{order}`.
pub const TEMPLATE_DELIVERY_TRACKING: &str = "KA01TP_SB_DELIVERY_TRACKING";

pub const SANDBOX_ALIMTALK_TEMPLATES: &[SandboxTemplate] = &[
    SandboxTemplate {
        id: TEMPLATE_ORDER_SHIPPED,
        name: "주문 발송 안내",
        text: "#{name}님, 주문하신 상품(주문번호 #{order})이 발송되었습니다.",
        buttons: &[],
    },
    SandboxTemplate {
        id: TEMPLATE_DELIVERY_TRACKING,
        name: "배송 조회 안내",
        text: "#{name}님, 주문 #{order}의 배송이 시작되었습니다. 아래 버튼으로 배송 현황을 확인하세요.",
        buttons: &[SandboxButton {
            button_type: "WL",
            name: "배송 조회",
            link_mo: Some("https://shop.example/track/#{order}"),
            link_pc: Some("https://shop.example/track/#{order}"),
        }],
    },
];

pub fn find(id: &str) -> Option<&'static SandboxTemplate> {
    SANDBOX_ALIMTALK_TEMPLATES.iter().find(|t| t.id == id)
}

/// The `#{…}` names in a template text, in order of first appearance.
pub fn variable_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("#{") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start..start + len + 1];
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        rest = &rest[start + len + 1..];
    }
    names
}

pub fn render(text: &str, variables: &Map<String, Value>) -> String {
    variables.iter().fold(text.to_owned(), |acc, (k, v)| {
        acc.replace(k.as_str(), v.as_str().unwrap_or_default())
    })
}

/// Why a message does not match its template: a Kakao result code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub code: &'static str,
    pub message: String,
}

/// Kakao's "message does not match the template" (see the module docs of [`super`] for why
/// this number).
pub const TEMPLATE_MISMATCH: &str = "3016";
pub const TEMPLATE_NOT_FOUND: &str = "3015";
pub const BUTTON_MISMATCH: &str = "3027";

fn mismatch(code: &'static str, message: impl Into<String>) -> Mismatch {
    Mismatch {
        code,
        message: message.into(),
    }
}

/// Checks a message's `kakaoOptions` (and optional `text`) against its template; returns the
/// rendered text.
pub fn check(
    template_id: &str,
    variables: &Map<String, Value>,
    text: Option<&str>,
    buttons: Option<&Vec<Value>>,
) -> Result<String, Mismatch> {
    let t = find(template_id).ok_or_else(|| {
        mismatch(
            TEMPLATE_NOT_FOUND,
            format!("템플릿을 찾을 수 없음 ({template_id})"),
        )
    })?;
    let expected = variable_names(t.text);
    if let Some(missing) = expected
        .iter()
        .find(|n| !variables.contains_key(n.as_str()))
    {
        return Err(mismatch(
            TEMPLATE_MISMATCH,
            format!("메시지가 템플릿과 일치하지 않음: 변수 {missing} 누락"),
        ));
    }
    if let Some(unknown) = variables.keys().find(|k| !expected.contains(k)) {
        return Err(mismatch(
            TEMPLATE_MISMATCH,
            format!("메시지가 템플릿과 일치하지 않음: 알 수 없는 변수 {unknown}"),
        ));
    }
    let rendered = render(t.text, variables);
    if let Some(text) = text
        && text != rendered
    {
        return Err(mismatch(
            TEMPLATE_MISMATCH,
            "메시지가 템플릿과 일치하지 않음: 본문이 다름",
        ));
    }
    let given = buttons.map(Vec::as_slice).unwrap_or_default();
    let same_count = given.len() == t.buttons.len();
    let all_match = t.buttons.iter().zip(given).all(|(want, got)| {
        let s = |k: &str| got.get(k).and_then(Value::as_str);
        let link = |want: Option<&str>, got: Option<&str>| match want {
            Some(w) => got == Some(render(w, variables).as_str()),
            None => got.is_none_or(str::is_empty),
        };
        s("buttonType") == Some(want.button_type)
            && s("buttonName") == Some(want.name)
            && link(want.link_mo, s("linkMo"))
            && (s("linkPc").is_none() || link(want.link_pc, s("linkPc")))
    });
    if !same_count || !all_match {
        return Err(mismatch(
            BUTTON_MISMATCH,
            "메시지 버튼이 템플릿과 일치하지 않음",
        ));
    }
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn renders_and_checks() {
        let v = vars(json!({"#{name}": "지수", "#{order}": "A-1"}));
        let text = check(TEMPLATE_ORDER_SHIPPED, &v, None, None).unwrap();
        assert_eq!(
            text,
            "지수님, 주문하신 상품(주문번호 A-1)이 발송되었습니다."
        );
        assert!(check(TEMPLATE_ORDER_SHIPPED, &v, Some(&text), None).is_ok());
        let code = |r: Result<String, Mismatch>| r.unwrap_err().code;
        assert_eq!(
            code(check(TEMPLATE_ORDER_SHIPPED, &v, Some("hi"), None)),
            TEMPLATE_MISMATCH
        );
        assert_eq!(code(check("nope", &v, None, None)), TEMPLATE_NOT_FOUND);
        let missing = vars(json!({"#{name}": "지수"}));
        assert_eq!(
            code(check(TEMPLATE_ORDER_SHIPPED, &missing, None, None)),
            TEMPLATE_MISMATCH
        );
        let extra = vars(json!({"#{name}": "a", "#{order}": "b", "#{x}": "c"}));
        assert_eq!(
            code(check(TEMPLATE_ORDER_SHIPPED, &extra, None, None)),
            TEMPLATE_MISMATCH
        );
        let button = json!({"buttonType": "WL", "buttonName": "배송 조회",
            "linkMo": "https://shop.example/track/A-1", "linkPc": "https://shop.example/track/A-1"});
        assert!(
            check(
                TEMPLATE_DELIVERY_TRACKING,
                &v,
                None,
                Some(&vec![button.clone()])
            )
            .is_ok()
        );
        assert_eq!(
            code(check(TEMPLATE_DELIVERY_TRACKING, &v, None, None)),
            BUTTON_MISMATCH
        );
        let mut wrong = button;
        wrong["linkMo"] = json!("https://evil.example/");
        assert_eq!(
            code(check(
                TEMPLATE_DELIVERY_TRACKING,
                &v,
                None,
                Some(&vec![wrong])
            )),
            BUTTON_MISMATCH
        );
        assert_eq!(variable_names("#{a} #{b} #{a}"), ["#{a}", "#{b}"]);
    }
}
