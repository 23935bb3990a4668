//! The Email Activity query language, the subset the sandbox evaluates.
//!
//! SendGrid's language is SQL-like (`=`, `!=`, `<`, `LIKE`, `IN`, `OR`, `NOT`, `BETWEEN` …
//! over a dozen fields). The sandbox understands a conjunction of:
//!
//! - `to_email="…"`, `from_email="…"`, `subject="…"`, `status="…"`, `msg_id="…"`
//! - `unique_args['key']="…"` (a custom arg, as the SDKs and SendGrid's UI write it)
//! - `last_event_time BETWEEN TIMESTAMP "…" AND TIMESTAMP "…"` (inclusive; the time as
//!   `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DD HH:MM:SS`, UTC)
//!
//! joined by `AND`, each optionally in parentheses. Anything else is refused with a 400 that
//! names it, never ignored: a clause silently dropped would widen the search, and a client
//! reconciling a lost send would take another message for its own.

use std::fmt;

/// A field that compares with `=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    ToEmail,
    FromEmail,
    Subject,
    Status,
    MsgId,
    UniqueArg(String),
}

/// One condition of the conjunction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    Eq(Field, String),
    /// `last_event_time` between two instants, epoch seconds, inclusive.
    LastEventBetween(u64, u64),
}

/// Why a query was refused; the text goes into SendGrid's error envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("invalid syntax: {0}")]
    Syntax(String),
    #[error("invalid syntax: '{0}' is not a known field")]
    UnknownField(String),
    #[error("not supported by the sandbox: {0}")]
    Unsupported(String),
}

/// Fields SendGrid documents that the sandbox does not evaluate.
const KNOWN_ELSEWHERE: &[&str] = &[
    "template_id",
    "template_name",
    "campaign_name",
    "campaign_id",
    "api_key_id",
    "api_key_name",
    "events",
    "originating_ip",
    "categories",
    "unique_args",
    "outbound_ip",
    "clicks",
    "opens",
    "unsubscribe_group_name",
    "unsubscribe_group_id",
    "teammate",
    "asm_group_id",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    /// `[ 'key' ]` after `unique_args`.
    Key(String),
    Op(String),
    Open,
    Close,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Word(w) | Self::Op(w) => write!(f, "{w}"),
            Self::Str(s) => write!(f, "\"{s}\""),
            Self::Key(k) => write!(f, "['{k}']"),
            Self::Open => write!(f, "("),
            Self::Close => write!(f, ")"),
        }
    }
}

/// A quoted string with `\` escapes, starting after the opening `quote`.
fn quoted(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    quote: char,
) -> Result<String, QueryError> {
    let mut out = String::new();
    loop {
        match chars.next() {
            None => return Err(QueryError::Syntax("unterminated string".into())),
            Some('\\') => match chars.next() {
                Some(c) => out.push(c),
                None => return Err(QueryError::Syntax("unterminated string".into())),
            },
            Some(c) if c == quote => return Ok(out),
            Some(c) => out.push(c),
        }
    }
}

fn tokens(query: &str) -> Result<Vec<Tok>, QueryError> {
    let mut out = Vec::new();
    let mut chars = query.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                out.push(if c == '(' { Tok::Open } else { Tok::Close });
            }
            '"' => {
                chars.next();
                out.push(Tok::Str(quoted(&mut chars, '"')?));
            }
            '[' => {
                chars.next();
                let key = match chars.next() {
                    Some(q @ ('\'' | '"')) => quoted(&mut chars, q)?,
                    _ => return Err(QueryError::Syntax("expected a quoted key after '['".into())),
                };
                if chars.next() != Some(']') {
                    return Err(QueryError::Syntax("expected ']' after the key".into()));
                }
                out.push(Tok::Key(key));
            }
            '=' | '!' | '<' | '>' => {
                let mut op = String::new();
                while let Some(&c) = chars.peek().filter(|c| "=!<>".contains(**c)) {
                    op.push(c);
                    chars.next();
                }
                out.push(Tok::Op(op));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut w = String::new();
                while let Some(&c) = chars
                    .peek()
                    .filter(|c| c.is_alphanumeric() || **c == '_' || **c == '.')
                {
                    w.push(c);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
            other => {
                return Err(QueryError::Syntax(format!(
                    "unexpected character '{other}'"
                )));
            }
        }
    }
    Ok(out)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (or with offset, fraction) or `YYYY-MM-DD HH:MM:SS` in UTC, to
/// epoch seconds.
fn timestamp(s: &str) -> Option<u64> {
    let t = s.trim();
    let ms = switchboard_iso_time::parse_iso(t)
        .or_else(|| switchboard_iso_time::parse_iso(&format!("{t}Z")))?;
    Some(ms / 1000)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word)) {
            self.at += 1;
            return true;
        }
        false
    }

    fn string(&mut self, after: &str) -> Result<String, QueryError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            Some(t) => Err(QueryError::Syntax(format!(
                "expected a quoted value after {after}, found {t}"
            ))),
            None => Err(QueryError::Syntax(format!(
                "expected a quoted value after {after}"
            ))),
        }
    }

    fn timestamp(&mut self) -> Result<u64, QueryError> {
        if !self.keyword("TIMESTAMP") {
            return Err(QueryError::Syntax("expected TIMESTAMP \"…\"".into()));
        }
        let raw = self.string("TIMESTAMP")?;
        timestamp(&raw).ok_or_else(|| QueryError::Syntax(format!("'{raw}' is not a timestamp")))
    }

    /// conjunction := primary (AND primary)*
    fn conjunction(&mut self, out: &mut Vec<Clause>) -> Result<(), QueryError> {
        self.primary(out)?;
        loop {
            if self.keyword("AND") {
                self.primary(out)?;
            } else if let Some(Tok::Word(w)) = self.peek() {
                return Err(QueryError::Unsupported(format!(
                    "the operator {}",
                    w.to_uppercase()
                )));
            } else {
                return Ok(());
            }
        }
    }

    /// primary := '(' conjunction ')' | comparison
    fn primary(&mut self, out: &mut Vec<Clause>) -> Result<(), QueryError> {
        if self.peek() == Some(&Tok::Open) {
            self.at += 1;
            self.conjunction(out)?;
            if self.next() != Some(Tok::Close) {
                return Err(QueryError::Syntax("expected ')'".into()));
            }
            return Ok(());
        }
        out.push(self.comparison()?);
        Ok(())
    }

    fn comparison(&mut self) -> Result<Clause, QueryError> {
        let name = match self.next() {
            Some(Tok::Word(w)) => w,
            Some(t) => return Err(QueryError::Syntax(format!("expected a field, found {t}"))),
            None => return Err(QueryError::Syntax("expected a field".into())),
        };
        let field = match name.as_str() {
            "to_email" => Field::ToEmail,
            "from_email" => Field::FromEmail,
            "subject" => Field::Subject,
            "status" => Field::Status,
            "msg_id" => Field::MsgId,
            "unique_args" => match self.next() {
                Some(Tok::Key(k)) => Field::UniqueArg(k),
                _ => {
                    return Err(QueryError::Unsupported(
                        "unique_args without a ['key'] (use unique_args['key']=\"value\")".into(),
                    ));
                }
            },
            "last_event_time" => {
                if !self.keyword("BETWEEN") {
                    return Err(QueryError::Unsupported(
                        "last_event_time other than BETWEEN TIMESTAMP \"…\" AND TIMESTAMP \"…\""
                            .into(),
                    ));
                }
                let from = self.timestamp()?;
                if !self.keyword("AND") {
                    return Err(QueryError::Syntax("expected AND in BETWEEN".into()));
                }
                let to = self.timestamp()?;
                return Ok(Clause::LastEventBetween(from, to));
            }
            other if KNOWN_ELSEWHERE.contains(&other) => {
                return Err(QueryError::Unsupported(format!("the field {other}")));
            }
            other => return Err(QueryError::UnknownField(other.to_owned())),
        };
        match self.next() {
            Some(Tok::Op(op)) if op == "=" => {}
            Some(Tok::Op(op)) => return Err(QueryError::Unsupported(format!("the operator {op}"))),
            Some(Tok::Word(w)) => {
                return Err(QueryError::Unsupported(format!(
                    "the operator {}",
                    w.to_uppercase()
                )));
            }
            _ => return Err(QueryError::Syntax(format!("expected = after {name}"))),
        }
        let value = self.string("=")?;
        Ok(Clause::Eq(field, value))
    }
}

/// Parses a whole query; an empty one matches every message.
pub fn parse(query: &str) -> Result<Vec<Clause>, QueryError> {
    let mut p = Parser {
        toks: tokens(query)?,
        at: 0,
    };
    let mut out = Vec::new();
    if p.toks.is_empty() {
        return Ok(out);
    }
    p.conjunction(&mut out)?;
    if let Some(t) = p.peek() {
        return Err(QueryError::Syntax(format!("unexpected {t}")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supported_subset_parses() {
        let q = r#"(unique_args['sb_message_id']="m\"1") AND to_email="a@b.co" AND last_event_time BETWEEN TIMESTAMP "2024-05-01T00:00:00Z" AND TIMESTAMP "2024-05-01 00:00:10""#;
        assert_eq!(
            parse(q).unwrap(),
            [
                Clause::Eq(Field::UniqueArg("sb_message_id".into()), "m\"1".into()),
                Clause::Eq(Field::ToEmail, "a@b.co".into()),
                Clause::LastEventBetween(1_714_521_600, 1_714_521_610),
            ]
        );
        assert_eq!(parse("  ").unwrap(), []);
        assert_eq!(
            parse("status=\"delivered\" and subject=\"Hi\"")
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn everything_else_is_refused_by_name() {
        let err = |q: &str| parse(q).unwrap_err().to_string();
        assert_eq!(
            err("bad_field=\"x\""),
            "invalid syntax: 'bad_field' is not a known field"
        );
        assert!(err("to_email=\"a\" OR to_email=\"b\"").contains("OR"));
        assert!(err("to_email!=\"a\"").contains("!="));
        assert!(err("to_email LIKE \"a%\"").contains("LIKE"));
        assert!(err("categories=\"x\"").contains("categories"));
        assert!(err("last_event_time=\"2024-05-01T00:00:00Z\"").contains("BETWEEN"));
        assert!(err("unique_args=\"x\"").contains("unique_args"));
        assert!(err("to_email=\"a").contains("unterminated"));
        assert!(err("(to_email=\"a\"").contains("')'"));
        assert!(err("to_email=\"a\" x").contains("X"));
        assert!(err("last_event_time BETWEEN TIMESTAMP \"yesterday\" AND TIMESTAMP \"2024-05-01T00:00:00Z\"").contains("yesterday"));
    }
}
