//! The outbox: events written in the same transaction as the change they describe.

use kernel::{Error, Page, PageRequest};
use outbox::CloudEvent;
use sqlx::{AnyConnection, AnyPool};

use crate::error::DbResultExt;
use crate::rows;

/// Appends `event` to the outbox inside the current command's transaction.
pub async fn append(conn: &mut AnyConnection, event: &CloudEvent) -> Result<(), Error> {
    sqlx::query("INSERT INTO outbox (id, type, subject, time, envelope) VALUES ($1, $2, $3, $4, $5)")
        .bind(&event.id)
        .bind(&event.kind)
        .bind(&event.subject)
        .bind(event.time.to_text())
        .bind(rows::to_json(event))
        .execute(conn)
        .await
        .db("append event")?;
    Ok(())
}

/// Builds and appends an event in one call.
pub async fn emit(
    conn: &mut AnyConnection,
    kind: &str,
    subject: &str,
    actor: &str,
    data: impl serde::Serialize,
) -> Result<(), Error> {
    let data = serde_json::to_value(data).map_err(|e| Error::internal(e.to_string()))?;
    append(conn, &CloudEvent::new(kind, subject, actor, data)).await
}

/// A stored event with its position in the outbox.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: CloudEvent,
}

/// Events in outbox order, optionally of one type or about one subject.
pub async fn list(
    db: &AnyPool,
    kind: Option<&str>,
    subject: Option<&str>,
    page: &PageRequest,
) -> Result<Page<StoredEvent>, Error> {
    let after: i64 = match &page.after {
        Some(a) => a.parse().map_err(|_| Error::new(kernel::ErrorCode::InvalidCursor, "invalid cursor"))?,
        None => 0,
    };
    let found = sqlx::query(
        "SELECT seq, envelope FROM outbox
         WHERE seq > $1 AND ($2 = '' OR type = $2) AND ($3 = '' OR subject = $3)
         ORDER BY seq LIMIT $4",
    )
    .bind(after)
    .bind(kind.unwrap_or(""))
    .bind(subject.unwrap_or(""))
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await
    .db("list events")?;
    let events = found
        .iter()
        .map(|r| Ok(StoredEvent { seq: rows::int(r, "seq")?, event: rows::json(r, "envelope")? }))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Page::from_rows(events, page, |e| e.seq.to_string()))
}

/// How many events the outbox holds (tests and metrics).
pub async fn count(db: &AnyPool) -> Result<i64, Error> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox").fetch_one(db).await.db("count events")?;
    rows::int(&row, "n")
}
