//! Turning database errors into the expected outcomes callers understand.
//!
//! A unique violation becomes `already_exists`, a foreign-key violation `unknown_reference`;
//! anything else is logged with its cause and reported as an opaque `internal` error.

use kernel::{Error, ErrorCode};
use sqlx::error::ErrorKind;

/// Maps a sqlx error raised while doing `what`.
pub fn db_error(what: &str, e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &e {
        let constraint = db.constraint().unwrap_or_default().to_owned();
        match db.kind() {
            ErrorKind::UniqueViolation => {
                return Error::new(ErrorCode::AlreadyExists, "a resource with this unique key already exists")
                    .with("constraint", constraint);
            }
            ErrorKind::ForeignKeyViolation => {
                return Error::new(ErrorCode::UnknownReference, "the request refers to something that does not exist")
                    .with("constraint", constraint);
            }
            ErrorKind::CheckViolation => {
                return Error::new(ErrorCode::ValidationFailed, "a value is out of range").with("constraint", constraint);
            }
            _ => {}
        }
    }
    if matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) {
        tracing::warn!(what, error = %e, "database unavailable");
        return Error::new(ErrorCode::Unavailable, "the database is unavailable; retry later");
    }
    tracing::error!(what, error = %e, "database error");
    Error::internal("an unexpected database error occurred")
}

/// Shorthand for `.map_err(|e| db_error(what, e))`.
pub trait DbResultExt<T> {
    fn db(self, what: &str) -> Result<T, Error>;
}

impl<T> DbResultExt<T> for Result<T, sqlx::Error> {
    fn db(self, what: &str) -> Result<T, Error> {
        self.map_err(|e| db_error(what, e))
    }
}
