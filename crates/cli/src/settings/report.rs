//! `switchboard config check`: the effective settings, one a line, with where each came
//! from. A secret prints as `<redacted>` (or `(none)`); a URL prints without its password or
//! any query parameter that looks like a credential. The check must be safe to paste into a
//! ticket.

use std::io::Write;

use super::{KEYS, Resolved, Secrecy};

const REDACTED: &str = "<redacted>";

/// Query or connection-string parameters whose values are credentials (matched as
/// substrings of the lower-cased name: `password`, `sslpassword`, `api_key`, `token`, ...).
const CREDENTIAL_PARAMS: &[&str] = &["pass", "secret", "token", "key", "auth", "sig"];

/// Print the effective settings of `resolved` to `out`.
pub fn print_check(resolved: &Resolved, out: &mut impl Write) -> std::io::Result<()> {
    // Every value unset would be a lie about what `serve` runs with: a settings type that
    // cannot be shown as JSON is an error, not a page of `(none)`.
    let values = serde_json::to_value(&resolved.settings).map_err(std::io::Error::other)?;
    writeln!(
        out,
        "# switchboard serve: effective settings (flag > environment > config file > default)"
    )?;
    match &resolved.file {
        Some(path) => writeln!(out, "# config file: {}", path.display())?,
        None => writeln!(out, "# config file: none (--config or SWITCHBOARD_CONFIG)")?,
    }
    let rows: Vec<(&str, String, String)> = KEYS
        .iter()
        .map(|k| {
            let shown = display(&values[k.name]);
            let shown = match (k.secrecy, shown) {
                (_, None) => "(none)".to_string(),
                (Secrecy::Secret, Some(_)) => REDACTED.to_string(),
                (Secrecy::Url, Some(text)) => redact_url(&text),
                (Secrecy::Public, Some(text)) => text,
            };
            let origin = resolved
                .origins
                .get(k.name)
                .map(|o| o.to_string())
                .unwrap_or_else(|| "default".into());
            (k.name, shown, origin)
        })
        .collect();
    let key_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let value_width = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    for (key, value, origin) in &rows {
        writeln!(out, "{key:key_width$}  {value:value_width$}  {origin}")?;
    }
    if !resolved.unread_env.is_empty() {
        writeln!(
            out,
            "# SWITCHBOARD_ variables that are not settings, not read: {}",
            resolved.unread_env.join(", ")
        )?;
    }
    Ok(())
}

/// A value as one line: lists comma-separated; `None` for an unset option or empty list.
fn display(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(display)
                .collect::<Vec<_>>()
                .join(","),
        ),
        other => Some(other.to_string()),
    }
}

/// `text` without credentials: a URL's password (`postgres://user:<redacted>@host/db`), and
/// the value of every query or `key=value` connection parameter named like a credential
/// (`password=...` in a libpq connection string, `?api_key=...` in a URL), quoted values
/// included.
pub fn redact_url(text: &str) -> String {
    let mut out = redact_userinfo(text);
    out = redact_params(&out);
    out
}

fn redact_userinfo(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_string();
    };
    let authority_start = scheme_end + 3;
    let rest = &text[authority_start..];
    // The last `@` anywhere, not only before the first `/`: a password written without
    // percent-encoding may hold `/`, `?` or `@`, and hiding too much beats showing any.
    let Some(at) = rest.rfind('@') else {
        return text.to_string();
    };
    let userinfo = &rest[..at];
    let Some(colon) = userinfo.find(':') else {
        return text.to_string();
    };
    format!(
        "{}{}:{REDACTED}{}",
        &text[..authority_start],
        &userinfo[..colon],
        &text[authority_start + at..]
    )
}

fn redact_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        // The parameter's name: back to the last separator before `=`.
        let name_start = rest[..eq]
            .rfind(['?', '&', ';', ' ', '\t'])
            .map_or(0, |i| i + 1);
        let name = rest[name_start..eq].to_ascii_lowercase();
        out.push_str(&rest[..=eq]);
        let after = &rest[eq + 1..];
        let value_len = value_length(after);
        if CREDENTIAL_PARAMS.iter().any(|c| name.contains(c)) && value_len > 0 {
            out.push_str(REDACTED);
        } else {
            out.push_str(&after[..value_len]);
        }
        rest = &after[value_len..];
    }
    out.push_str(rest);
    out
}

/// Length of a parameter's value: to the next separator, or a quoted value to its closing
/// quote (libpq: `password='a b\'c'`).
fn value_length(after: &str) -> usize {
    if let Some(quoted) = after.strip_prefix('\'') {
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '\'' if !escaped => return i + 2,
                _ => escaped = false,
            }
        }
        return after.len();
    }
    after
        .find(['&', ';', ' ', '\t', '#'])
        .unwrap_or(after.len())
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_survive() {
        let cases = [
            (
                "postgres://switchboard:S3cr3t@db.internal:5432/switchboard",
                "postgres://switchboard:<redacted>@db.internal:5432/switchboard",
            ),
            (
                "postgres://sb:p%40ss@db/sb?sslmode=require&password=other",
                "postgres://sb:<redacted>@db/sb?sslmode=require&password=<redacted>",
            ),
            (
                "host=db user=sb password='a b\\'c' dbname=sb",
                "host=db user=sb password=<redacted> dbname=sb",
            ),
            (
                "https://pay.example/v1?api_key=sk_live_1&x=1",
                "https://pay.example/v1?api_key=<redacted>&x=1",
            ),
            ("postgres://only-user@db/sb", "postgres://only-user@db/sb"),
            ("http://127.0.0.1:8025", "http://127.0.0.1:8025"),
        ];
        for (given, shown) in cases {
            assert_eq!(redact_url(given), shown, "{given}");
        }
        // A password with `@`, `/` and `?` in it: the last `@` ends the user info.
        let odd = redact_url("postgres://sb:a@b/c?d@db/sb");
        assert_eq!(odd, "postgres://sb:<redacted>@db/sb");
    }
}
