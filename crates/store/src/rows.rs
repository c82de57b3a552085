//! Helpers to read portable columns (text timestamps, JSON text) from `sqlx::Any` rows.

use kernel::{Error, Timestamp};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::db_error;

pub(crate) fn text(row: &AnyRow, col: &str) -> Result<String, Error> {
    row.try_get::<String, _>(col).map_err(|e| db_error(col, e))
}

pub(crate) fn opt_text(row: &AnyRow, col: &str) -> Result<Option<String>, Error> {
    row.try_get::<Option<String>, _>(col).map_err(|e| db_error(col, e))
}

pub(crate) fn int(row: &AnyRow, col: &str) -> Result<i64, Error> {
    row.try_get::<i64, _>(col).map_err(|e| db_error(col, e))
}

pub(crate) fn float(row: &AnyRow, col: &str) -> Result<f64, Error> {
    row.try_get::<f64, _>(col).map_err(|e| db_error(col, e))
}

pub(crate) fn timestamp(row: &AnyRow, col: &str) -> Result<Timestamp, Error> {
    Timestamp::parse(&text(row, col)?).map_err(|e| corrupt(col, &e))
}

pub(crate) fn opt_timestamp(row: &AnyRow, col: &str) -> Result<Option<Timestamp>, Error> {
    opt_text(row, col)?.map(|t| Timestamp::parse(&t).map_err(|e| corrupt(col, &e))).transpose()
}

pub(crate) fn json<T: DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T, Error> {
    serde_json::from_str(&text(row, col)?).map_err(|e| corrupt(col, &e.to_string()))
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    // Serialising our own plain data types cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// A stored value that does not parse: the database was edited by hand or is corrupt.
pub(crate) fn corrupt(col: &str, why: &str) -> Error {
    tracing::error!(column = col, why, "stored value does not parse");
    Error::internal("a stored value is corrupt")
}

/// `$start, $start+1, …` for `n` bind parameters.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
