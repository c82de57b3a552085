//! Helpers to read portable columns (text timestamps, JSON text) from rows.

use kernel::{Error, Timestamp};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::sql::{Row, corrupt};

pub(crate) fn timestamp(row: &Row, col: &str) -> Result<Timestamp, Error> {
    Timestamp::parse(&row.text(col)?).map_err(|e| corrupt(col, &e))
}

pub(crate) fn opt_timestamp(row: &Row, col: &str) -> Result<Option<Timestamp>, Error> {
    row.opt_text(col)?
        .map(|t| Timestamp::parse(&t).map_err(|e| corrupt(col, &e)))
        .transpose()
}

/// A column holding one of a domain enum's names, read with the enum's own `parse`.
pub(crate) fn parsed<T>(
    row: &Row,
    col: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, Error> {
    let text = row.text(col)?;
    parse(&text).ok_or_else(|| corrupt(col, &text))
}

pub(crate) fn currency(row: &Row, col: &str) -> Result<kernel::Currency, Error> {
    let code = row.text(col)?;
    kernel::Currency::parse(&code).map_err(|e| corrupt(col, &e))
}

pub(crate) fn json<T: DeserializeOwned>(row: &Row, col: &str) -> Result<T, Error> {
    serde_json::from_str(&row.text(col)?).map_err(|e| corrupt(col, &e.to_string()))
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    // Serialising our own plain data types cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}
