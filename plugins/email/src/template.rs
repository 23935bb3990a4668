//! The default template: a message that carries only text is sent as a text part plus a
//! simple HTML part, because many clients rank text-only mail lower and render it poorly.

/// Escape text for HTML and keep its line breaks.
pub fn html_from_text(text: &str, subject: &str) -> String {
    let body: String = escape(text)
        .replace("\r\n", "\n")
        .split("\n\n")
        .map(|p| format!("<p>{}</p>", p.replace('\n', "<br>")))
        .collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"margin:0;padding:24px;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;\
         font-size:15px;line-height:1.5;color:#1f2328\">{body}</body></html>",
        escape(subject)
    )
}

/// The subject when the message gives none: its first line, cut at a word near 78 characters.
pub fn subject_from_text(text: &str) -> String {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if first.chars().count() <= 78 {
        return first.to_string();
    }
    let cut: String = first.chars().take(77).collect();
    let cut = cut
        .rsplit_once(' ')
        .map(|(a, _)| a.to_string())
        .unwrap_or(cut);
    format!("{cut}…")
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_escaped_paragraphs() {
        let html = html_from_text("Hi <Ada> & co\nline two\n\nnext", "S & S");
        assert!(
            html.contains("<p>Hi &lt;Ada&gt; &amp; co<br>line two</p><p>next</p>"),
            "{html}"
        );
        assert!(html.contains("<title>S &amp; S</title>"));
    }

    #[test]
    fn subjects_default_to_the_first_line() {
        assert_eq!(
            subject_from_text("\n  Order shipped \nmore"),
            "Order shipped"
        );
        let long = "word ".repeat(30);
        let s = subject_from_text(&long);
        assert!(s.chars().count() <= 78 && s.ends_with('…'), "{s}");
    }
}
