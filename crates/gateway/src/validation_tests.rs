//! The manifest's limits, by what a request says and by what its URLs really serve.

use super::*;
use crate::model::{Button, CarouselElement, Content, Media, NewMessage, Recipient};

fn limits() -> wit::ContentLimits {
    let rule = |kind, exts: &[&str], max| wit::MediaRule {
        kind,
        extensions: exts.iter().map(|e| e.to_string()).collect(),
        max_bytes: max,
    };
    wit::ContentLimits {
        max_text_bytes: 2000,
        max_subject_bytes: 0,
        max_media: 1,
        max_media_bytes: 0,
        max_carousel_elements: 10,
        max_buttons: 3,
        max_quick_replies: 13,
        media_rules: vec![
            rule(
                wit::MediaKind::Image,
                &["png", "jpg", "jpeg", "gif"],
                10 << 20,
            ),
            rule(wit::MediaKind::Video, &["mov", "m4v", "mp4"], 10 << 20),
            rule(
                wit::MediaKind::File,
                &["odt", "ppt", "txt", "doc", "pdf"],
                10 << 20,
            ),
        ],
        carousel_needs_images: true,
        carousel_needs_buttons: true,
    }
}

fn msg(content: Content) -> NewMessage {
    NewMessage {
        channel: "messenger".into(),
        to: Recipient::default(),
        content,
        category: Default::default(),
        metadata: Default::default(),
        options: Default::default(),
        connection: None,
        from: None,
        policy: None,
    }
}

fn media(kind: MediaKind, url: &str, size: u64) -> Media {
    Media {
        kind,
        url: url.into(),
        mime_type: String::new(),
        size,
    }
}

fn codes(c: Content) -> Vec<(String, String)> {
    check(&limits(), &msg(c))
        .into_iter()
        .map(|v| (v.code, v.field))
        .collect()
}

#[test]
fn empty_text_and_empty_content() {
    assert_eq!(
        codes(Content {
            text: Some("  ".into()),
            ..Default::default()
        }),
        vec![("empty_text".into(), "content.text".into())]
    );
    assert_eq!(
        codes(Content::default()),
        vec![("empty_content".into(), "content".into())]
    );
}

#[test]
fn an_image_attachment_needs_an_image() {
    let c = Content {
        media: vec![media(MediaKind::Image, "", 10)],
        ..Default::default()
    };
    assert_eq!(
        codes(c),
        vec![("missing_media".into(), "content.media[0].url".into())]
    );
}

#[test]
fn supported_types_and_sizes() {
    for (kind, url) in [
        (MediaKind::Image, "https://cdn.test/a.PNG"),
        (MediaKind::Image, "https://cdn.test/a.jpeg?x=1"),
        (MediaKind::Video, "https://cdn.test/v.m4v"),
        (MediaKind::File, "https://cdn.test/d.pdf"),
        (MediaKind::File, "https://cdn.test/d.odt"),
    ] {
        assert!(
            codes(Content {
                media: vec![media(kind, url, 1000)],
                ..Default::default()
            })
            .is_empty(),
            "{url}"
        );
    }
    let bad = Content {
        media: vec![media(MediaKind::Image, "https://cdn.test/a.bmp", 10)],
        ..Default::default()
    };
    assert_eq!(
        codes(bad),
        vec![("unsupported_type".into(), "content.media[0].url".into())]
    );
    let doc = Content {
        media: vec![media(MediaKind::File, "https://cdn.test/a.exe", 10)],
        ..Default::default()
    };
    assert_eq!(codes(doc)[0].0, "unsupported_type");
    // A declared size is not judged at all: only what the URL serves is.
    let big = Content {
        media: vec![media(
            MediaKind::File,
            "https://cdn.test/a.pdf",
            (10 << 20) + 1,
        )],
        ..Default::default()
    };
    assert!(codes(big).is_empty());
}

fn served(length: u64, content_type: Option<&str>) -> Option<Outcome> {
    Some(Ok(crate::media_probe::Probed {
        length,
        content_type: content_type.map(String::from),
    }))
}

fn fetched_codes(
    kind: MediaKind,
    url: &str,
    declared: u64,
    f: Option<Outcome>,
) -> Vec<(String, String)> {
    let m = msg(Content {
        media: vec![media(kind, url, declared)],
        ..Default::default()
    });
    check_fetched(&limits(), &m, &[f])
        .into_iter()
        .map(|v| (v.code, v.field))
        .collect()
}

#[test]
fn what_the_url_serves_is_judged_by_the_kind_and_the_cap() {
    use crate::media_probe::ProbeError;
    let one = |code: &str| vec![(code.to_string(), "content.media[0].url".to_string())];
    let pdf = "https://cdn.test/a.pdf";
    let png = "https://cdn.test/a.png";
    assert!(
        fetched_codes(
            MediaKind::File,
            pdf,
            1,
            served(10 << 20, Some("application/pdf"))
        )
        .is_empty()
    );
    // Declared 1 byte, really one over the cap.
    assert_eq!(
        fetched_codes(
            MediaKind::File,
            pdf,
            1,
            served((10 << 20) + 1, Some("application/pdf"))
        ),
        one("file_too_large")
    );
    // Declared over the cap, really within it: the real size decides.
    assert!(
        fetched_codes(
            MediaKind::File,
            pdf,
            50 << 20,
            served(100, Some("application/octet-stream"))
        )
        .is_empty()
    );
    assert_eq!(
        fetched_codes(MediaKind::Image, png, 10, served(100, Some("text/html"))),
        one("media_type_mismatch")
    );
    assert_eq!(
        fetched_codes(MediaKind::Image, png, 10, served(100, None)),
        one("media_type_mismatch")
    );
    assert_eq!(
        fetched_codes(MediaKind::File, pdf, 10, served(100, Some("text/html"))),
        one("media_type_mismatch")
    );
    assert_eq!(
        fetched_codes(MediaKind::Image, png, 10, served(0, Some("image/png"))),
        one("media_empty")
    );
    for (e, code) in [
        (ProbeError::NotFound(404), "media_not_found"),
        (ProbeError::Status(500), "media_unreachable"),
        (ProbeError::Timeout(3000), "media_unreachable"),
        (
            ProbeError::PrivateAddress("127.0.0.1:9".into()),
            "media_private_address",
        ),
        (ProbeError::NoLength, "media_size_unknown"),
    ] {
        assert_eq!(
            fetched_codes(MediaKind::Image, png, 10, Some(Err(e))),
            one(code)
        );
    }
    // Not asked (its URL was already refused): nothing more to say.
    assert!(fetched_codes(MediaKind::Image, "https://cdn.test/a.bmp", 10, None).is_empty());
}

#[test]
fn carousels_need_images_and_buttons() {
    let el = |image: Option<&str>, buttons: usize| CarouselElement {
        title: "T".into(),
        subtitle: None,
        image_url: image.map(String::from),
        buttons: (0..buttons)
            .map(|i| Button {
                title: format!("b{i}"),
                url: Some("https://x.test".into()),
                payload: None,
            })
            .collect(),
    };
    let c = Content {
        carousel: vec![
            el(Some("https://x.test/i.png"), 1),
            el(None, 1),
            el(Some("https://x.test/i.png"), 0),
        ],
        ..Default::default()
    };
    assert_eq!(
        codes(c),
        vec![
            (
                "missing_image".into(),
                "content.carousel[1].image_url".into()
            ),
            (
                "missing_buttons".into(),
                "content.carousel[2].buttons".into()
            ),
        ]
    );
    let eleven = Content {
        carousel: (0..11)
            .map(|_| el(Some("https://x.test/i.png"), 1))
            .collect(),
        ..Default::default()
    };
    assert_eq!(
        codes(eleven),
        vec![("too_many".into(), "content.carousel".into())]
    );
}

#[test]
fn extensions_come_from_the_path() {
    assert_eq!(
        url_extension("https://a.test/x/y.JPG?s=1#f").as_deref(),
        Some("jpg")
    );
    assert_eq!(url_extension("https://a.test/"), None);
    assert_eq!(url_extension("https://a.test"), None);
    assert_eq!(url_extension("https://a.b.test/file"), None);
}

#[test]
fn the_total_is_judged_when_no_attachment_alone_is_over() {
    let mut l = limits();
    l.max_media = 2;
    l.max_media_bytes = 15 << 20;
    let two = msg(Content {
        media: vec![
            media(MediaKind::File, "https://cdn.test/a.pdf", 1),
            media(MediaKind::File, "https://cdn.test/b.pdf", 1),
        ],
        ..Default::default()
    });
    let pdf = |n| served(n, Some("application/pdf"));
    let codes = |f: &[Option<Outcome>]| -> Vec<(String, String)> {
        check_fetched(&l, &two, f)
            .into_iter()
            .map(|v| (v.code, v.field))
            .collect()
    };
    assert_eq!(
        codes(&[pdf(10 << 20), pdf(10 << 20)]),
        vec![("file_too_large".into(), "content.media".into())]
    );
    assert_eq!(
        codes(&[pdf((10 << 20) + 1), pdf(10 << 20)]),
        vec![("file_too_large".into(), "content.media[0].url".into())]
    );
    assert!(codes(&[pdf(5 << 20), pdf(5 << 20)]).is_empty());
}
