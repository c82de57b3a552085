//! Small text rules shared by every validator: bounded text, optional text, codes.

use crate::Error;

/// Trims `value` and checks its length in characters is within `min..=max`.
pub fn bounded(field: &str, value: &str, min: usize, max: usize) -> Result<String, Error> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len < min || len > max {
        return Err(Error::validation(
            field,
            format!("{field} must be {min} to {max} characters long"),
        )
        .with("min", min)
        .with("max", max));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// Like [`bounded`] for an optional value; an empty string counts as absent.
pub fn optional(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, Error> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => bounded(field, v, 1, max).map(Some),
    }
}

/// A code made of the allowed characters, `min..=max` long (SKUs, location codes…).
pub fn code(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    allowed: impl Fn(char) -> bool,
    rule: &str,
) -> Result<String, Error> {
    let ok = (min..=max).contains(&value.len()) && value.chars().all(allowed);
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::validation(
            field,
            format!("{field} must be {min} to {max} characters: {rule}"),
        ))
    }
}
