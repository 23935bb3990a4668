//! The PostgreSQL side of [`super`].
//!
//! The table operations are synchronous: they run on the store's writer thread and on read
//! connections, one statement after another, as they do on SQLite. `tokio-postgres` is
//! asynchronous, so each connection's I/O is driven by a task on the store's own small
//! runtime, and a statement here blocks its caller until the answer arrives (the request
//! future only waits on a channel to that task, so no runtime is needed where it is polled).
//! Why `tokio-postgres` and not the blocking `postgres` crate: that crate starts a runtime per
//! client and panics when called from a thread of another runtime, which the read paths are.
//!
//! SQL arrives in the shared dialect and is rewritten once per connection, when it is first
//! prepared: `?N` becomes `$N`, and `/* FOR UPDATE SKIP LOCKED */` (a comment, so SQLite
//! ignores it) becomes the clause, for the claims that several nodes race for.
//!
//! Values: parameters are encoded by the type PostgreSQL inferred for them (an integer bound
//! where it expects `INT4` or `BOOL` is narrowed, never refused for its Rust type), and columns
//! are read into SQLite's five classes: `BOOL` as 0/1, `NUMERIC` (what `SUM` of a `BIGINT`
//! gives) as an integer when it is whole.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;

use bytes::BytesMut;
use postgres_types::{IsNull, Type};

use super::{Error, Result, Row, RowInner, ToSql as Bind, ValueRef};

type BoxError = Box<dyn StdError + Sync + Send>;

/// One PostgreSQL connection and the statements prepared on it.
pub struct PgConn {
    client: tokio_postgres::Client,
    statements: RefCell<HashMap<String, tokio_postgres::Statement>>,
    /// The runtime whose thread drives this connection's socket, when it is the caller's
    /// own: the writer's connection, whose statements then cost no hand-off to another
    /// thread and back. `None`: the socket is driven elsewhere (the store's I/O thread).
    local: Option<std::sync::Arc<tokio::runtime::Runtime>>,
}

impl PgConn {
    /// A connection whose I/O already runs as a task elsewhere (see `crate::pg`).
    pub(crate) fn new(client: tokio_postgres::Client) -> PgConn {
        PgConn {
            client,
            statements: RefCell::new(HashMap::new()),
            local: None,
        }
    }

    /// A connection whose socket task runs on `runtime`, a current-thread runtime of the one
    /// thread that uses it: every statement drives the socket itself while it waits.
    pub(crate) fn on_local_runtime(
        client: tokio_postgres::Client,
        runtime: std::sync::Arc<tokio::runtime::Runtime>,
    ) -> PgConn {
        PgConn {
            client,
            statements: RefCell::new(HashMap::new()),
            local: Some(runtime),
        }
    }

    /// Block the calling thread on a request until its answer arrives.
    fn wait<F: std::future::Future>(&self, f: F) -> F::Output {
        match &self.local {
            Some(runtime) => runtime.block_on(f),
            // The request only waits on a channel to the connection's task, so no runtime
            // is needed where it is polled.
            None => futures_executor::block_on(f),
        }
    }

    /// Whether the server side of this connection is gone (it is then thrown away).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    pub(super) fn statement(&self, sql: &str) -> Result<tokio_postgres::Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let prepared = self.wait(self.client.prepare(&translate(sql)))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), prepared.clone());
        Ok(prepared)
    }

    pub(super) fn execute_batch(&self, sql: &str) -> Result<()> {
        Ok(self.wait(self.client.batch_execute(&translate(sql)))?)
    }

    pub(super) fn execute(
        &self,
        stmt: &tokio_postgres::Statement,
        params: &[&dyn Bind],
    ) -> Result<usize> {
        let values = encode(params)?;
        let n = self.wait(self.client.execute(stmt, &refs(&values)))?;
        Ok(n as usize)
    }

    pub(super) fn query(
        &self,
        stmt: &tokio_postgres::Statement,
        params: &[&dyn Bind],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let values = encode(params)?;
        Ok(self.wait(self.client.query(stmt, &refs(&values)))?)
    }
}

fn encode<'a>(params: &'a [&'a dyn Bind]) -> Result<Vec<Param<'a>>> {
    params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.to_sql()
                .map(Param)
                .map_err(|e| Error::conversion(i, format!("parameter: {e}")))
        })
        .collect()
}

fn refs<'a>(values: &'a [Param<'a>]) -> Vec<&'a (dyn postgres_types::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn postgres_types::ToSql + Sync))
        .collect()
}

/// The shared dialect as PostgreSQL reads it: `?N` → `$N` outside quoted text and the claim
/// marker made real.
pub(crate) fn translate(sql: &str) -> String {
    let sql = unmark_claims(sql);
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    out.push(c);
                }
                '?' => out.push('$'),
                _ => out.push(c),
            },
        }
    }
    out
}

/// `/* FOR UPDATE … */` (a comment to SQLite, which has no row locks and one writer) becomes
/// the clause it holds.
fn unmark_claims(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.find("/* FOR UPDATE") {
        let Some(len) = rest[start..].find("*/") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(rest[start + 2..start + len].trim());
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// One parameter, encoded by the type the server expects.
#[derive(Debug)]
struct Param<'a>(ValueRef<'a>);

impl postgres_types::ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self.0 {
            ValueRef::Null => Ok(IsNull::Yes),
            ValueRef::Integer(i) => match *ty {
                Type::INT8 => put(i, ty, out),
                Type::INT4 => put(i32::try_from(i)?, ty, out),
                Type::INT2 => put(i16::try_from(i)?, ty, out),
                Type::BOOL => put(i != 0, ty, out),
                Type::FLOAT8 => put(i as f64, ty, out),
                Type::FLOAT4 => put(i as f32, ty, out),
                Type::NUMERIC => {
                    numeric_from_i64(i, out);
                    Ok(IsNull::No)
                }
                Type::TEXT | Type::VARCHAR => put(i.to_string().as_str(), &Type::TEXT, out),
                _ => Err(mismatch("an integer", ty)),
            },
            ValueRef::Real(r) => match *ty {
                Type::FLOAT8 => put(r, ty, out),
                Type::FLOAT4 => put(r as f32, ty, out),
                _ => Err(mismatch("a real", ty)),
            },
            ValueRef::Text(t) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    put(t, &Type::TEXT, out)
                }
                Type::JSON | Type::JSONB => {
                    if *ty == Type::JSONB {
                        out.extend_from_slice(&[1]);
                    }
                    out.extend_from_slice(t.as_bytes());
                    Ok(IsNull::No)
                }
                _ => Err(mismatch("text", ty)),
            },
            ValueRef::Blob(b) => match *ty {
                Type::BYTEA => put(b, ty, out),
                _ => Err(mismatch("a blob", ty)),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres_types::to_sql_checked!();
}

fn put<T: postgres_types::ToSql>(v: T, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    v.to_sql(ty, out)
}

fn mismatch(what: &str, ty: &Type) -> BoxError {
    format!("{what} cannot be bound where PostgreSQL expects {ty}").into()
}

/// One column of a row, read into the class SQLite would have given it.
struct Cell<'a>(ValueRef<'a>);

impl<'a> postgres_types::FromSql<'a> for Cell<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Cell(match *ty {
            Type::INT8 => ValueRef::Integer(i64::from_sql(ty, raw)?),
            Type::INT4 => ValueRef::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => ValueRef::Integer(i16::from_sql(ty, raw)?.into()),
            Type::OID => ValueRef::Integer(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => ValueRef::Integer(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => ValueRef::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => ValueRef::Real(f32::from_sql(ty, raw)?.into()),
            Type::NUMERIC => numeric_to_value(raw)?,
            Type::BYTEA => ValueRef::Blob(raw),
            Type::JSONB => ValueRef::Text(std::str::from_utf8(raw.get(1..).unwrap_or(&[]))?),
            _ => ValueRef::Text(std::str::from_utf8(raw)?),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Cell(ValueRef::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// `NUMERIC` in PostgreSQL's binary form (base-10000 digits, a weight, a sign): whole values
/// that fit become integers, anything else a real. Money never has a fraction here; a `SUM`
/// over micro-units is the only `NUMERIC` the code reads.
fn numeric_to_value(raw: &[u8]) -> Result<ValueRef<'static>, BoxError> {
    let word = |i: usize| -> Result<i16, BoxError> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "a truncated NUMERIC".into())
    };
    let ndigits = word(0)? as usize;
    let weight = word(1)? as i32;
    let sign = word(2)? as u16;
    if sign == 0xC000 {
        return Ok(ValueRef::Real(f64::NAN));
    }
    let mut whole: i128 = 0;
    let mut fraction = false;
    let mut real = 0f64;
    for k in 0..ndigits {
        let d = word(4 + k)? as i128;
        let power = weight - k as i32;
        real += d as f64 * 10000f64.powi(power);
        if power >= 0 {
            whole = 10000i128
                .checked_pow(power as u32)
                .and_then(|scale| whole.checked_add(d * scale))
                .ok_or("a NUMERIC too large for 64 bits")?;
        } else if d != 0 {
            fraction = true;
        }
    }
    let negative = sign == 0x4000;
    if fraction {
        return Ok(ValueRef::Real(if negative { -real } else { real }));
    }
    let whole = if negative { -whole } else { whole };
    Ok(ValueRef::Integer(
        i64::try_from(whole).map_err(|_| "a NUMERIC too large for 64 bits")?,
    ))
}

fn numeric_from_i64(i: i64, out: &mut BytesMut) {
    let negative = i < 0;
    let mut n = i.unsigned_abs();
    let mut digits = Vec::new();
    while n > 0 {
        digits.push((n % 10000) as i16);
        n /= 10000;
    }
    digits.reverse();
    let weight = digits.len() as i16 - 1;
    out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
    out.extend_from_slice(&weight.max(0).to_be_bytes());
    out.extend_from_slice(&(if negative { 0x4000u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    for d in digits {
        out.extend_from_slice(&d.to_be_bytes());
    }
}

pub(super) fn value_at<'r>(row: &'r tokio_postgres::Row, col: usize) -> Result<ValueRef<'r>> {
    row.try_get::<_, Cell<'r>>(col)
        .map(|c| c.0)
        .map_err(|e| Error::conversion(col, e))
}

/// A statement prepared on a PostgreSQL connection.
pub(super) struct Stmt<'c> {
    pub(super) conn: &'c PgConn,
    pub(super) stmt: tokio_postgres::Statement,
}

impl Stmt<'_> {
    pub(super) fn column_count(&self) -> usize {
        self.stmt.columns().len()
    }

    pub(super) fn execute(&self, params: &[&dyn Bind]) -> Result<usize> {
        self.conn.execute(&self.stmt, params)
    }

    pub(super) fn query_map<T, F>(&self, params: &[&dyn Bind], mut f: F) -> Result<Vec<Result<T>>>
    where
        F: FnMut(&Row<'_>) -> Result<T>,
    {
        let rows = self.conn.query(&self.stmt, params)?;
        Ok(rows
            .iter()
            .map(|r| {
                f(&Row {
                    inner: RowInner::Pg(r),
                })
            })
            .collect())
    }

    pub(super) fn query_row<T, F>(&self, params: &[&dyn Bind], f: F) -> Result<T>
    where
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        let rows = self.conn.query(&self.stmt, params)?;
        match rows.first() {
            Some(r) => f(&Row {
                inner: RowInner::Pg(r),
            }),
            None => Err(Error::QueryReturnedNoRows),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            translate("SELECT ?1, '?2', \"a?\" FROM t WHERE x = ?12"),
            "SELECT $1, '?2', \"a?\" FROM t WHERE x = $12"
        );
        assert_eq!(
            translate("SELECT id FROM t LIMIT 5 /* FOR UPDATE SKIP LOCKED */"),
            "SELECT id FROM t LIMIT 5 FOR UPDATE SKIP LOCKED"
        );
        assert_eq!(
            translate(
                "SELECT d.id FROM d JOIN e ON e.id = d.e LIMIT ?2 /* FOR UPDATE OF d SKIP LOCKED */ -- x"
            ),
            "SELECT d.id FROM d JOIN e ON e.id = d.e LIMIT $2 FOR UPDATE OF d SKIP LOCKED -- x"
        );
    }

    #[test]
    fn numerics_round_trip_whole_values() {
        for i in [
            0i64,
            1,
            -1,
            9999,
            10000,
            123_456_789,
            -987_654_321_000,
            i64::MAX,
            i64::MIN + 1,
        ] {
            let mut out = BytesMut::new();
            numeric_from_i64(i, &mut out);
            assert_eq!(
                numeric_to_value(&out).expect("decodes"),
                ValueRef::Integer(i),
                "{i}"
            );
        }
    }
}
