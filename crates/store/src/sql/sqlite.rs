//! The SQLite side of [`super`]: statements are `rusqlite`'s, parameters and columns are
//! converted at the edge.

use rusqlite::types::{ToSqlOutput, ValueRef as SqliteValue};

use super::{Error, Result, Row, RowInner, ToSql, ValueRef};

pub(super) enum Stmt<'c> {
    Cached(rusqlite::CachedStatement<'c>),
    Plain(rusqlite::Statement<'c>),
}

/// One parameter as `rusqlite` binds it.
struct Bind<'a>(&'a dyn ToSql);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let v = self
            .0
            .to_sql()
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(ToSqlOutput::Borrowed(match v {
            ValueRef::Null => SqliteValue::Null,
            ValueRef::Integer(i) => SqliteValue::Integer(i),
            ValueRef::Real(r) => SqliteValue::Real(r),
            ValueRef::Text(t) => SqliteValue::Text(t.as_bytes()),
            ValueRef::Blob(b) => SqliteValue::Blob(b),
        }))
    }
}

fn binds<'a>(params: &'a [&'a dyn ToSql]) -> impl Iterator<Item = Bind<'a>> {
    params.iter().map(|p| Bind(*p))
}

impl<'c> Stmt<'c> {
    fn raw(&mut self) -> &mut rusqlite::Statement<'c> {
        match self {
            Stmt::Cached(s) => s,
            Stmt::Plain(s) => s,
        }
    }

    pub(super) fn column_count(&mut self) -> usize {
        self.raw().column_count()
    }

    pub(super) fn execute(&mut self, params: &[&dyn ToSql]) -> Result<usize> {
        Ok(self
            .raw()
            .execute(rusqlite::params_from_iter(binds(params)))?)
    }

    pub(super) fn query_map<T, F>(
        &mut self,
        params: &[&dyn ToSql],
        mut f: F,
    ) -> Result<Vec<Result<T>>>
    where
        F: FnMut(&Row<'_>) -> Result<T>,
    {
        let mut rows = self
            .raw()
            .query(rusqlite::params_from_iter(binds(params)))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(f(&Row {
                inner: RowInner::Sqlite(r),
            }));
        }
        Ok(out)
    }

    pub(super) fn query_row<T, F>(&mut self, params: &[&dyn ToSql], f: F) -> Result<T>
    where
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        let mut rows = self
            .raw()
            .query(rusqlite::params_from_iter(binds(params)))?;
        match rows.next()? {
            Some(r) => f(&Row {
                inner: RowInner::Sqlite(r),
            }),
            None => Err(Error::QueryReturnedNoRows),
        }
    }

    pub(super) fn exists(&mut self, params: &[&dyn ToSql]) -> Result<bool> {
        Ok(self
            .raw()
            .exists(rusqlite::params_from_iter(binds(params)))?)
    }
}

pub(super) fn value_at<'r>(row: &'r rusqlite::Row<'_>, col: usize) -> Result<ValueRef<'r>> {
    Ok(match row.get_ref(col)? {
        SqliteValue::Null => ValueRef::Null,
        SqliteValue::Integer(i) => ValueRef::Integer(i),
        SqliteValue::Real(r) => ValueRef::Real(r),
        SqliteValue::Text(t) => ValueRef::Text(
            std::str::from_utf8(t).map_err(|_| Error::conversion(col, "text that is not UTF-8"))?,
        ),
        SqliteValue::Blob(b) => ValueRef::Blob(b),
    })
}
