//! The listings' `limit` and `cursor` query parameters, read one way for every endpoint so
//! the same mistake gets the same answer wherever it is made. The next page's cursor is
//! built where the rows are read (`store::split_page`).

use axum::http::StatusCode;

use super::error::ApiError;

/// The query string, or `400 invalid_query` saying why it does not parse (a listing's
/// `limit=abc`, say).
pub fn query<T>(
    q: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    q.map(|axum::extract::Query(q)| q)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
}

/// The page sizes one listing allows.
#[derive(Debug, Clone, Copy)]
pub struct PageSize {
    pub default: u32,
    pub max: u32,
}

impl PageSize {
    /// The requested page size, the default when none was asked for; `400 invalid_query`
    /// outside 1 to `max`.
    pub fn limit(self, requested: Option<u32>) -> Result<u32, ApiError> {
        let limit = requested.unwrap_or(self.default);
        if !(1..=self.max).contains(&limit) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("limit must be between 1 and {}", self.max),
            )
            .field("limit"));
        }
        Ok(limit)
    }

    /// The `limit` parameter as the document shows it: the range [`Self::limit`] enforces
    /// and the default it applies, from the same two numbers.
    pub fn schema(self) -> utoipa::openapi::Object {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
            .minimum(Some(1))
            .maximum(Some(self.max))
            .default(Some(self.default.into()))
            .description(Some(format!(
                "Page size, 1 to {} (default {}).",
                self.max, self.default
            )))
            .build()
    }
}

/// What a sequence-number cursor looks like; the document's pattern for one.
pub const SEQ_CURSOR_PATTERN: &str = "^[0-9]{1,18}$";

/// A cursor that is a sequence number (the ledger's): only one this API gave out parses,
/// that is 1 to 18 digits ([`SEQ_CURSOR_PATTERN`]).
pub fn seq_cursor(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    cursor
        .map(|c| {
            let digits = !c.is_empty() && c.len() <= 18 && c.bytes().all(|b| b.is_ascii_digit());
            digits
                .then(|| c.parse::<i64>().ok())
                .flatten()
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_query",
                        "cursor is not one this API gave out",
                    )
                    .field("cursor")
                })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: PageSize = PageSize {
        default: 50,
        max: 200,
    };

    #[test]
    fn limits_default_and_stay_in_range() {
        assert_eq!(SIZES.limit(None).unwrap(), 50);
        assert_eq!(SIZES.limit(Some(1)).unwrap(), 1);
        assert_eq!(SIZES.limit(Some(200)).unwrap(), 200);
        for bad in [0, 201, u32::MAX] {
            let e = SIZES.limit(Some(bad)).unwrap_err();
            assert_eq!(
                (e.status, e.code, e.field.as_deref()),
                (StatusCode::BAD_REQUEST, "invalid_query", Some("limit"))
            );
            assert_eq!(e.message, "limit must be between 1 and 200");
        }
    }

    #[test]
    fn seq_cursors_parse_or_are_refused() {
        assert_eq!(seq_cursor(None).unwrap(), None);
        assert_eq!(seq_cursor(Some("42")).unwrap(), Some(42));
        for bad in ["", "x", "1.5", "99999999999999999999", "-1", "+1"] {
            let e = seq_cursor(Some(bad)).unwrap_err();
            assert_eq!(
                (e.code, e.field.as_deref()),
                ("invalid_query", Some("cursor"))
            );
        }
    }
}
