//! The login dialog's HTML: login form, consent form and Facebook's error pages. Every value
//! from the request is escaped, since the dialog echoes `state` and `redirect_uri` back.

use std::fmt::Write as _;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::store::DialogParams;
use super::{SANDBOX_FACEBOOK_USER_NAME, SANDBOX_MESSENGER_APP_NAME};

pub fn escape(s: &str) -> String {
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

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{}</title>\n</head>\n<body>\n\
         <header><strong>facebook</strong> <small>(Switchboard sandbox)</small></header>\n\
         <main>\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // A login page must not be framed or cached, as on facebook.com.
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CACHE_CONTROL,
                "private, no-cache, no-store, must-revalidate",
            ),
        ],
        document(title, body),
    )
        .into_response()
}

/// A dialog error: shown to the user, never redirected back to the app.
pub fn error_page(status: StatusCode, heading: &str, text: &str) -> Response {
    page(
        status,
        "Error",
        &format!(
            "<div role=\"alert\" id=\"error\">\n<h1>{}</h1>\n<p>{}</p>\n</div>\n",
            escape(heading),
            escape(text)
        ),
    )
}

fn hidden(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(
        out,
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    );
}

/// The login form, posting the dialog's parameters along so the login step can check them
/// again (hidden fields are whatever the browser sends).
pub fn login_page(version: &str, params: &DialogParams, error: Option<&str>) -> Response {
    let mut body = String::from("<h1>Log in to Facebook</h1>\n");
    if let Some(e) = error {
        let _ = writeln!(body, "<div role=\"alert\" id=\"error\">{}</div>", escape(e));
    }
    let _ = writeln!(
        body,
        "<p>Log in to continue to {}.</p>\n<form method=\"post\" action=\"/{}/dialog/oauth/login\">",
        escape(SANDBOX_MESSENGER_APP_NAME),
        escape(version)
    );
    hidden(&mut body, "client_id", &params.client_id);
    hidden(&mut body, "redirect_uri", &params.redirect_uri);
    if let Some(state) = &params.state {
        hidden(&mut body, "state", state);
    }
    hidden(&mut body, "scope", &params.scope.join(","));
    hidden(&mut body, "response_type", "code");
    body.push_str(
        "<p><label for=\"email\">Email address or phone number</label>\n\
         <input type=\"text\" id=\"email\" name=\"email\" autocomplete=\"username\" autofocus></p>\n\
         <p><label for=\"password\">Password</label>\n\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\"></p>\n\
         <p><button type=\"submit\">Log in</button></p>\n</form>\n",
    );
    page(StatusCode::OK, "Log in to Facebook | Facebook", &body)
}

/// The consent form for a logged-in user; the dialog itself stays on the server under `dialog_id`.
pub fn consent_page(version: &str, dialog_id: &str, scope: &[String]) -> Response {
    let mut body = format!(
        "<h1>{} is requesting access to: {}</h1>\n<ul id=\"permissions\">\n",
        escape(SANDBOX_MESSENGER_APP_NAME),
        escape(&scope.join(", "))
    );
    for s in scope {
        let _ = writeln!(body, "<li>{}</li>", escape(s));
    }
    let _ = writeln!(
        body,
        "</ul>\n<form method=\"post\" action=\"/{}/dialog/oauth/confirm\">",
        escape(version)
    );
    hidden(&mut body, "dialog_id", dialog_id);
    let _ = write!(
        body,
        "<p><button type=\"submit\" name=\"decision\" value=\"allow\">Continue as {}</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Cancel</button></p>\n</form>\n",
        escape(SANDBOX_FACEBOOK_USER_NAME)
    );
    page(StatusCode::OK, "Log in With Facebook", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#""><script>alert('x')</script>&"#),
            "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
    }
}
