//! The condition language of notification rules: a strict subset of JSONLogic (the language
//! Novu's step conditions use), checked when a rule is written and evaluated on each result.
//!
//! Why JSONLogic: a business writes it as plain JSON, it is documented elsewhere, and its
//! tree shape lets every mistake be named by its path (`condition.and[1].==[0]`). Why a
//! subset of our own rather than a full engine: every operator allowed here is validated at
//! write time, so a rule cannot fail on a result later for a reason it could have been told
//! when it was saved. Automations use the same language ([`check_in`]), with the `var` roots
//! their data has.
//!
//! | form | meaning |
//! |---|---|
//! | `true`, `false` | always, never |
//! | `{"var": "values.housingType"}` (or `["path", default]`) | a value of the result: `form`, `values.<name>…`, `contact`, `conversation` |
//! | `{"==": [a, b]}`, `{"!=": [a, b]}` | equal or not: numbers by value, everything else as JSON |
//! | `{"<": [a, b]}`, `<=`, `>`, `>=` | numbers; false when either side is not a number |
//! | `{"in": [a, b]}` | `a` is an element of the array `b`, or a substring of the string `b` |
//! | `{"and": [c…]}`, `{"or": [c…]}` | all of, any of (at least one condition) |
//! | `{"!": c}` or `{"!": [c]}` | not |
//!
//! A value (`a`, `b`) is a JSON literal or a `var`. Truthiness follows JSONLogic: `false`,
//! `null`, `0`, `""` and `[]` are false.

use serde_json::Value;

/// Where a condition is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConditionError {
    pub path: String,
    pub message: String,
}

fn wrong(path: &str, message: impl Into<String>) -> ConditionError {
    ConditionError {
        path: path.to_string(),
        message: message.into(),
    }
}

/// What a notification rule's condition may name: the result's parts.
pub const RULE_ROOTS: &[&str] = &["form", "values", "contact", "conversation"];
const COMPARISONS: [&str; 7] = ["==", "!=", "<", "<=", ">", ">=", "in"];

/// The one operator of an object, with its arguments.
fn operator<'a>(v: &'a Value, path: &str) -> Result<(&'a str, &'a Value), ConditionError> {
    let Some(obj) = v.as_object() else {
        return Err(wrong(
            path,
            "expected true, false or an object with one operator",
        ));
    };
    let mut it = obj.iter();
    match (it.next(), it.next()) {
        (Some((op, args)), None) => Ok((op.as_str(), args)),
        _ => Err(wrong(path, "an operator object has exactly one key")),
    }
}

/// `a, b or c`, for messages.
fn listed(roots: &[&str]) -> String {
    match roots {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn check_var(args: &Value, path: &str, roots: &[&str]) -> Result<(), ConditionError> {
    let name = match args {
        Value::String(s) => s,
        Value::Array(a) if (1..=2).contains(&a.len()) => a[0]
            .as_str()
            .ok_or_else(|| wrong(&format!("{path}[0]"), "a var's path is a string"))?,
        _ => return Err(wrong(path, "a var is a path, or [path, default]")),
    };
    let root = name.split('.').next().unwrap_or_default();
    if !roots.contains(&root) || name.split('.').any(str::is_empty) {
        return Err(wrong(
            path,
            format!("`{name}` is not a path under {}", listed(roots)),
        ));
    }
    Ok(())
}

/// A value: a literal or a var.
fn check_value(v: &Value, path: &str, roots: &[&str]) -> Result<(), ConditionError> {
    match v {
        Value::Object(_) => match operator(v, path)? {
            ("var", args) => check_var(args, &format!("{path}.var"), roots),
            (op, _) => Err(wrong(
                path,
                format!("`{op}` is not a value; use a literal or var"),
            )),
        },
        _ => Ok(()),
    }
}

/// Check a notification rule's condition at write time; the error names the path under `at`.
pub fn check(c: &Value, at: &str) -> Result<(), ConditionError> {
    check_in(c, at, RULE_ROOTS)
}

/// Check a condition whose `var` paths may start at `roots` only: what the data it is
/// evaluated on has (a rule's result; an automation's contact and conversation, and more
/// where a trigger or a step has more), so a path that can never hold a value is refused
/// when it is written rather than read as `null` on every evaluation.
pub fn check_in(c: &Value, at: &str, roots: &[&str]) -> Result<(), ConditionError> {
    if c.is_boolean() {
        return Ok(());
    }
    let (op, args) = operator(c, at)?;
    let here = format!("{at}.{op}");
    match op {
        "and" | "or" => {
            let list = args
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| wrong(&here, "expected a non-empty array of conditions"))?;
            for (i, c) in list.iter().enumerate() {
                check_in(c, &format!("{here}[{i}]"), roots)?;
            }
            Ok(())
        }
        "!" => match args {
            Value::Array(a) if a.len() == 1 => check_in(&a[0], &format!("{here}[0]"), roots),
            Value::Array(_) => Err(wrong(&here, "`!` takes one condition")),
            other => check_in(other, &here, roots),
        },
        op if COMPARISONS.contains(&op) => {
            let pair = args
                .as_array()
                .filter(|a| a.len() == 2)
                .ok_or_else(|| wrong(&here, "expected two values: [a, b]"))?;
            for (i, v) in pair.iter().enumerate() {
                check_value(v, &format!("{here}[{i}]"), roots)?;
            }
            Ok(())
        }
        "var" => check_var(args, &here, roots),
        other => Err(wrong(
            at,
            format!(
                "`{other}` is not an operator here (use ==, !=, <, <=, >, >=, in, and, or, !, var)"
            ),
        )),
    }
}

fn lookup(data: &Value, args: &Value) -> Value {
    let (name, default) = match args {
        Value::String(s) => (s.as_str(), Value::Null),
        Value::Array(a) => (
            a.first().and_then(Value::as_str).unwrap_or_default(),
            a.get(1).cloned().unwrap_or(Value::Null),
        ),
        _ => ("", Value::Null),
    };
    let mut at = data;
    for part in name.split('.') {
        at = match at {
            Value::Object(o) => match o.get(part) {
                Some(v) => v,
                None => return default,
            },
            Value::Array(a) => match part.parse::<usize>().ok().and_then(|i| a.get(i)) {
                Some(v) => v,
                None => return default,
            },
            _ => return default,
        };
    }
    at.clone()
}

fn value(v: &Value, data: &Value) -> Value {
    match v.as_object().and_then(|o| o.get("var")) {
        Some(args) => lookup(data, args),
        None => v.clone(),
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Evaluate a condition [`check`] accepted.
pub fn eval(c: &Value, data: &Value) -> bool {
    if let Value::Bool(b) = c {
        return *b;
    }
    let Some((op, args)) = c.as_object().and_then(|o| o.iter().next()) else {
        return false;
    };
    let pair = || {
        let a = args.as_array().map(Vec::as_slice).unwrap_or_default();
        (
            a.first().map(|v| value(v, data)).unwrap_or(Value::Null),
            a.get(1).map(|v| value(v, data)).unwrap_or(Value::Null),
        )
    };
    let numbers = |f: fn(f64, f64) -> bool| {
        let (a, b) = pair();
        matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if f(x, y))
    };
    match op.as_str() {
        "and" => args
            .as_array()
            .is_some_and(|a| a.iter().all(|c| eval(c, data))),
        "or" => args
            .as_array()
            .is_some_and(|a| a.iter().any(|c| eval(c, data))),
        "!" => match args {
            Value::Array(a) => !a.first().is_some_and(|c| eval(c, data)),
            other => !eval(other, data),
        },
        "==" => {
            let (a, b) = pair();
            equal(&a, &b)
        }
        "!=" => {
            let (a, b) = pair();
            !equal(&a, &b)
        }
        "<" => numbers(|x, y| x < y),
        "<=" => numbers(|x, y| x <= y),
        ">" => numbers(|x, y| x > y),
        ">=" => numbers(|x, y| x >= y),
        "in" => {
            let (a, b) = pair();
            match (&a, &b) {
                (_, Value::Array(list)) => list.iter().any(|v| equal(v, &a)),
                (Value::String(s), Value::String(whole)) => whole.contains(s.as_str()),
                _ => false,
            }
        }
        "var" => truthy(&lookup(data, args)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Value {
        json!({"form": "lead", "values": {"intent": "seller", "housingType": "cottage", "rooms": 4}})
    }

    #[test]
    fn conditions_evaluate_as_jsonlogic_does() {
        let cottage = json!({"==": [{"var": "values.housingType"}, "cottage"]});
        assert!(check(&cottage, "condition").is_ok());
        assert!(eval(&cottage, &data()));
        let both = json!({"and": [cottage, {"in": [{"var": "values.intent"}, ["seller", "landlord"]]}, {">=": [{"var": "values.rooms"}, 4]}]});
        assert!(eval(&both, &data()));
        assert!(!eval(
            &json!({"!": {"==": [{"var": "form"}, "lead"]}}),
            &data()
        ));
        assert!(eval(
            &json!({"==": [{"var": ["values.missing", "x"]}, "x"]}),
            &data()
        ));
        assert!(!eval(&json!({"<": [{"var": "values.intent"}, 3]}), &data()));
        assert!(eval(
            &json!({"in": ["cot", {"var": "values.housingType"}]}),
            &data()
        ));
        assert!(eval(&json!(true), &data()));
    }

    #[test]
    fn mistakes_are_named_by_their_path() {
        let err = |c: Value| check(&c, "condition").unwrap_err().path;
        assert_eq!(
            err(json!({"and": [true, {"~=": [1, 2]}]})),
            "condition.and[1]"
        );
        assert_eq!(err(json!({"==": [1]})), "condition.==");
        assert_eq!(
            err(json!({"==": [{"var": "payload.x"}, 1]})),
            "condition.==[0].var"
        );
        assert_eq!(err(json!({"or": []})), "condition.or");
        assert_eq!(err(json!({"==": [1, 2], "!=": [1, 2]})), "condition");
        assert_eq!(err(json!("cottage")), "condition");
        assert_eq!(err(json!({"==": [{"and": [true]}, 1]})), "condition.==[0]");
        assert_eq!(
            check(&json!({"var": "payload"}), "condition")
                .unwrap_err()
                .message,
            "`payload` is not a path under form, values, contact or conversation"
        );
    }

    #[test]
    fn the_roots_a_var_may_name_are_the_callers() {
        let roots = &["contact", "answers"];
        let c = json!({"and": [{"var": "answers.email"}, {"==": [{"var": "contact.name"}, "x"]}]});
        assert!(check_in(&c, "if", roots).is_ok());
        let e = check_in(&json!({"!": {"var": "values.x"}}), "if", roots).unwrap_err();
        assert_eq!(e.path, "if.!.var");
        assert_eq!(
            e.message,
            "`values.x` is not a path under contact or answers"
        );
        assert!(check(&json!({"var": "answers.x"}), "condition").is_err());
    }
}
