//! Values as they cross into and out of SQL: SQLite's five storage classes, which PostgreSQL's
//! `BIGINT`, `DOUBLE PRECISION`, `TEXT`, `BYTEA` and NULL map onto one to one.

/// A value borrowed from a row or a parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// An owned value, for the rare column whose type is only known at run time.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Why a value did not convert, either way: a parameter to SQL or a column from it.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error("expected {expected}, found {found}")]
    InvalidType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("{0} is out of range")]
    OutOfRange(String),
}

impl ValueRef<'_> {
    fn kind(&self) -> &'static str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Integer(_) => "an integer",
            ValueRef::Real(_) => "a real",
            ValueRef::Text(_) => "text",
            ValueRef::Blob(_) => "a blob",
        }
    }

    fn wrong(&self, expected: &'static str) -> ValueError {
        ValueError::InvalidType {
            expected,
            found: self.kind(),
        }
    }
}

/// A Rust value that binds as a statement parameter.
pub trait ToSql {
    fn to_sql(&self) -> Result<ValueRef<'_>, ValueError>;
}

/// A Rust value read from a column.
pub trait FromSql: Sized {
    fn column_result(value: ValueRef<'_>) -> Result<Self, ValueError>;
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_sql(&self) -> Result<ValueRef<'_>, ValueError> {
        (**self).to_sql()
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_sql(&self) -> Result<ValueRef<'_>, ValueError> {
        match self {
            Some(v) => v.to_sql(),
            None => Ok(ValueRef::Null),
        }
    }
}

impl<T: ToSql + ?Sized> ToSql for Box<T> {
    fn to_sql(&self) -> Result<ValueRef<'_>, ValueError> {
        (**self).to_sql()
    }
}

impl ToSql for str {
    fn to_sql(&self) -> Result<ValueRef<'_>, ValueError> {
        Ok(ValueRef::Text(self))
    }
}

impl ToSql for String {
    fn to_sql(&self) -> Result<ValueRef<'_>, ValueError> {
        Ok(ValueRef::Text(self))
    }
}

impl ToSql for [u8] {
    fn to_sql(&self) -> Result<ValueRef<'_>, ValueError> {
        Ok(ValueRef::Blob(self))
    }
}

impl ToSql for Vec<u8> {
    fn to_sql(&self) -> Result<ValueRef<'_>, ValueError> {
        Ok(ValueRef::Blob(self))
    }
}

impl ToSql for bool {
    fn to_sql(&self) -> Result<ValueRef<'_>, ValueError> {
        Ok(ValueRef::Integer(i64::from(*self)))
    }
}

impl ToSql for f64 {
    fn to_sql(&self) -> Result<ValueRef<'_>, ValueError> {
        Ok(ValueRef::Real(*self))
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> Result<ValueRef<'_>, ValueError> {
        Ok(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(t) => ValueRef::Text(t),
            Value::Blob(b) => ValueRef::Blob(b),
        })
    }
}

macro_rules! integers {
    ($($t:ty)*) => {$(
        impl ToSql for $t {
            fn to_sql(&self) -> Result<ValueRef<'_>, ValueError> {
                // Only an unsigned value above i64::MAX fails; it would not fit a column.
                i64::try_from(*self)
                    .map(ValueRef::Integer)
                    .map_err(|_| ValueError::OutOfRange(self.to_string()))
            }
        }
        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> Result<Self, ValueError> {
                match value {
                    ValueRef::Integer(i) => <$t>::try_from(i).map_err(|_| ValueError::OutOfRange(i.to_string())),
                    other => Err(other.wrong("an integer")),
                }
            }
        }
    )*};
}
integers!(i8 i16 i32 i64 u8 u16 u32 u64 usize isize);

impl FromSql for bool {
    fn column_result(value: ValueRef<'_>) -> Result<Self, ValueError> {
        match value {
            ValueRef::Integer(i) => Ok(i != 0),
            other => Err(other.wrong("a boolean (0 or 1)")),
        }
    }
}

impl FromSql for f64 {
    fn column_result(value: ValueRef<'_>) -> Result<Self, ValueError> {
        match value {
            ValueRef::Real(r) => Ok(r),
            ValueRef::Integer(i) => Ok(i as f64),
            other => Err(other.wrong("a real")),
        }
    }
}

impl FromSql for String {
    fn column_result(value: ValueRef<'_>) -> Result<Self, ValueError> {
        match value {
            ValueRef::Text(t) => Ok(t.to_string()),
            other => Err(other.wrong("text")),
        }
    }
}

impl FromSql for Vec<u8> {
    fn column_result(value: ValueRef<'_>) -> Result<Self, ValueError> {
        match value {
            ValueRef::Blob(b) => Ok(b.to_vec()),
            other => Err(other.wrong("a blob")),
        }
    }
}

impl FromSql for Value {
    fn column_result(value: ValueRef<'_>) -> Result<Self, ValueError> {
        Ok(match value {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) => Value::Text(t.to_string()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        })
    }
}

impl<T: FromSql> FromSql for Option<T> {
    fn column_result(value: ValueRef<'_>) -> Result<Self, ValueError> {
        match value {
            ValueRef::Null => Ok(None),
            v => T::column_result(v).map(Some),
        }
    }
}
