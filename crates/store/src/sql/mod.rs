//! One small SQL surface for every table operation, whichever database is underneath.
//!
//! Why it exists: the services compose table operations inside one unit of work
//! ([`crate::Store::write`]), and those operations were written against `rusqlite`. A second
//! backend (PostgreSQL, for many nodes on one database) must run the very same operations,
//! not copies of them, or the two would drift apart rule by rule. So the operations speak to
//! this module, whose names follow `rusqlite`'s (`Connection`, `Transaction`, `params!`,
//! `query_row`, `prepare_cached`, `query_map`, `optional`) because that is the vocabulary the
//! code already had; the backend decides how a statement runs.
//!
//! The SQL itself is written once, in the dialect both engines accept: `?N` placeholders
//! (rewritten for PostgreSQL), `INSERT … ON CONFLICT DO NOTHING` rather than `INSERT OR
//! IGNORE`, `RETURNING` rather than `last_insert_rowid()`, casts where an aggregate's type
//! differs between them.
//!
//! Values cross the boundary as [`ValueRef`], SQLite's five storage classes: integers, reals,
//! text, blobs and NULL. Money is integer micro-units, so nothing here ever needs a decimal.

mod postgres;
mod sqlite;
mod value;

pub use postgres::PgConn;

pub use value::{FromSql, ToSql, Value, ValueError, ValueRef};

/// Bind parameters by position: `params![a, b, c]`.
#[macro_export]
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::sql::ToSql]
    };
    ($($param:expr),+ $(,)?) => {
        &[$(&$param as &dyn $crate::sql::ToSql),+] as &[&dyn $crate::sql::ToSql]
    };
}
pub use crate::params;

/// Everything that can go wrong talking to a database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `query_row` found nothing; [`OptionalExtension::optional`] turns it into `None`.
    #[error("the query returned no rows")]
    QueryReturnedNoRows,
    #[error("column {column}: {detail}")]
    Conversion { column: usize, detail: String },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", postgres_detail(.0))]
    Postgres(#[from] tokio_postgres::Error),
}

/// tokio-postgres says only "db error" for a server's refusal; the server's message, code
/// and hint are what an operator needs.
fn postgres_detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{} ({})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(": {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A UNIQUE constraint refused the write, e.g. a concurrent insert with the same key.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            Error::Postgres(e) => {
                e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }

    /// The database could not be reached, or the connection to it broke: the work did not
    /// happen and may be tried again once it is back.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Postgres(e) => match e.as_db_error() {
                // The server answered: only its "connection" and "shutting down" classes mean
                // it is away; anything else is about the statement.
                Some(db) => {
                    let code = db.code().code();
                    code.starts_with("08") || code.starts_with("57P")
                }
                // No answer at all: the socket broke, or the connection was already closed.
                None => true,
            },
            _ => false,
        }
    }

    /// A deadlock or a serialization failure between nodes: the transaction was rolled back
    /// by the server and is safe to run again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Postgres(e) => matches!(
                e.code(),
                Some(c) if *c == tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                    || *c == tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
            ),
            _ => false,
        }
    }

    /// A value read from a column was not what the code expected.
    pub fn conversion(column: usize, detail: impl std::fmt::Display) -> Error {
        Error::Conversion {
            column,
            detail: detail.to_string(),
        }
    }
}

/// `query_row(…).optional()`: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Positional parameters: `params![…]`, an array of one type, or `[]`.
pub trait Params {
    fn values(&self) -> Vec<&dyn ToSql>;
}

impl Params for &[&dyn ToSql] {
    fn values(&self) -> Vec<&dyn ToSql> {
        self.to_vec()
    }
}

impl Params for [&dyn ToSql; 0] {
    fn values(&self) -> Vec<&dyn ToSql> {
        Vec::new()
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn values(&self) -> Vec<&dyn ToSql> {
                self.iter().map(|v| v as &dyn ToSql).collect()
            }
        }
        impl<T: ToSql> Params for &[T; $n] {
            fn values(&self) -> Vec<&dyn ToSql> {
                self.iter().map(|v| v as &dyn ToSql).collect()
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);

/// Column index for [`Row::get`]: by position.
pub trait RowIndex {
    fn index(&self) -> usize;
}

impl RowIndex for usize {
    fn index(&self) -> usize {
        *self
    }
}

/// A connection, or a transaction on one, of either backend. Table operations take
/// `&Connection` for reads and `&Transaction` (the same type) for writes.
pub struct Connection<'c> {
    inner: Inner<'c>,
}

/// The name writes use for the same type: a connection inside the unit of work's transaction.
pub type Transaction<'c> = Connection<'c>;

enum Inner<'c> {
    Sqlite(&'c rusqlite::Connection),
    SqliteOwned(Box<rusqlite::Connection>),
    Postgres(&'c PgConn),
}

impl<'c> Connection<'c> {
    /// A SQLite connection (or transaction, which dereferences to one) borrowed for a while.
    pub fn sqlite(c: &'c rusqlite::Connection) -> Connection<'c> {
        Connection {
            inner: Inner::Sqlite(c),
        }
    }

    /// A SQLite connection this value owns (tests, tools).
    pub fn sqlite_owned(c: rusqlite::Connection) -> Connection<'static> {
        Connection {
            inner: Inner::SqliteOwned(Box::new(c)),
        }
    }

    /// A PostgreSQL connection (inside the writer's transaction, or a reader) for a while.
    pub fn postgres(c: &'c PgConn) -> Connection<'c> {
        Connection {
            inner: Inner::Postgres(c),
        }
    }

    /// The same connection, borrowed (an owned one lends itself out).
    pub fn reborrow(&self) -> Connection<'_> {
        Connection {
            inner: match &self.inner {
                Inner::Sqlite(c) => Inner::Sqlite(c),
                Inner::SqliteOwned(c) => Inner::Sqlite(c),
                Inner::Postgres(c) => Inner::Postgres(c),
            },
        }
    }

    /// Whether this is PostgreSQL, for the few places that must say something only one
    /// engine understands (an advisory lock, a sequence).
    pub fn is_postgres(&self) -> bool {
        matches!(self.inner, Inner::Postgres(_))
    }

    fn sqlite_conn(&self) -> Option<&rusqlite::Connection> {
        match &self.inner {
            Inner::Sqlite(c) => Some(c),
            Inner::SqliteOwned(c) => Some(c),
            Inner::Postgres(_) => None,
        }
    }

    /// Run one statement; returns how many rows it changed. Like [`Self::query_row`], it keeps
    /// the statement prepared ([`Self::prepare_cached`]): SQL built at run time goes through
    /// [`Self::prepare`] instead, so it does not crowd the cache.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    /// The first row of a query, or [`Error::QueryReturnedNoRows`].
    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    /// Statements separated by `;`, no parameters, no rows (schema, pragmas).
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match (&self.inner, self.sqlite_conn()) {
            (Inner::Postgres(pg), _) => pg.execute_batch(sql),
            (_, Some(c)) => Ok(c.execute_batch(sql)?),
            (_, None) => unreachable!("a connection is SQLite or PostgreSQL"),
        }
    }

    /// A statement kept prepared on this connection: the hot path runs the same few dozen
    /// statements thousands of times a second.
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            inner: match (&self.inner, self.sqlite_conn()) {
                (Inner::Postgres(pg), _) => StmtInner::Pg(postgres::Stmt {
                    conn: pg,
                    stmt: pg.statement(sql)?,
                }),
                (_, Some(c)) => StmtInner::Sqlite(sqlite::Stmt::Cached(c.prepare_cached(sql)?)),
                (_, None) => unreachable!("a connection is SQLite or PostgreSQL"),
            },
        })
    }

    /// A statement prepared once, for SQL built at run time.
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            inner: match (&self.inner, self.sqlite_conn()) {
                // Prepared statements live per connection on the server too; a run-time text
                // is kept like any other (its shape repeats, only its values change).
                (Inner::Postgres(pg), _) => StmtInner::Pg(postgres::Stmt {
                    conn: pg,
                    stmt: pg.statement(sql)?,
                }),
                (_, Some(c)) => StmtInner::Sqlite(sqlite::Stmt::Plain(c.prepare(sql)?)),
                (_, None) => unreachable!("a connection is SQLite or PostgreSQL"),
            },
        })
    }
}

/// A prepared statement.
pub struct Statement<'c> {
    inner: StmtInner<'c>,
}

enum StmtInner<'c> {
    Sqlite(sqlite::Stmt<'c>),
    Pg(postgres::Stmt<'c>),
}

/// Call the same method on whichever statement this is.
macro_rules! on_stmt {
    ($s:expr, $st:ident => $e:expr) => {
        match &mut $s.inner {
            StmtInner::Sqlite($st) => $e,
            StmtInner::Pg($st) => $e,
        }
    };
}

impl Statement<'_> {
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        on_stmt!(self, s => s.execute(&params.values()))
    }

    /// Every row, each through `f`, read before this returns.
    pub fn query_map<T, P, F>(&mut self, params: P, f: F) -> Result<std::vec::IntoIter<Result<T>>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> Result<T>,
    {
        Ok(on_stmt!(self, s => s.query_map(&params.values(), f))?.into_iter())
    }

    pub fn query_row<T, P, F>(&mut self, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        on_stmt!(self, s => s.query_row(&params.values(), f))
    }

    /// Every row, as owned values.
    pub fn query<P: Params>(&mut self, params: P) -> Result<Rows> {
        let columns = on_stmt!(self, s => s.column_count());
        let rows = on_stmt!(self, s => s.query_map(&params.values(), |r| r.owned(columns)))?
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        Ok(Rows {
            rows: rows.into_iter(),
            current: None,
        })
    }

    /// Whether the query finds at least one row.
    pub fn exists<P: Params>(&mut self, params: P) -> Result<bool> {
        match &mut self.inner {
            StmtInner::Sqlite(s) => s.exists(&params.values()),
            StmtInner::Pg(s) => s
                .query_row(&params.values(), |_| Ok(()))
                .optional()
                .map(|r| r.is_some()),
        }
    }
}

/// One row of a result.
pub struct Row<'r> {
    inner: RowInner<'r>,
}

enum RowInner<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Pg(&'r tokio_postgres::Row),
    Owned(&'r [Value]),
}

impl Row<'_> {
    /// Column `idx`, converted to `T`.
    pub fn get<I: RowIndex, T: FromSql>(&self, idx: I) -> Result<T> {
        let i = idx.index();
        let value = match &self.inner {
            RowInner::Sqlite(r) => sqlite::value_at(r, i)?,
            RowInner::Pg(r) => postgres::value_at(r, i)?,
            RowInner::Owned(values) => values
                .get(i)
                .ok_or_else(|| Error::conversion(i, "no such column"))?
                .to_sql()
                .map_err(|e| Error::conversion(i, e))?,
        };
        T::column_result(value).map_err(|e| Error::conversion(i, e))
    }

    fn owned(&self, columns: usize) -> Result<Vec<Value>> {
        (0..columns).map(|i| self.get(i)).collect()
    }
}

/// The rows of [`Statement::query`], read in full before it returns, so the caller may run
/// other statements on the same connection while it walks them.
pub struct Rows {
    rows: std::vec::IntoIter<Vec<Value>>,
    current: Option<Vec<Value>>,
}

impl Rows {
    #[allow(clippy::should_implement_trait)] // rusqlite's shape: a fallible `next`
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        self.current = self.rows.next();
        Ok(self.current.as_deref().map(|values| Row {
            inner: RowInner::Owned(values),
        }))
    }
}
