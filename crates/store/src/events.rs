//! The outbox: events written in the same transaction as the change they describe.

use kernel::{Error, Page, PageRequest};
use outbox::{CloudEvent, Event};

use crate::sql::Conn;
use crate::{Db, params, rows};

/// Appends `event` to the outbox inside the current command's transaction.
pub async fn append(conn: &mut Conn, event: &CloudEvent) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO outbox (id, type, subject, time, envelope) VALUES ($1, $2, $3, $4, $5)",
        params![
            &event.id,
            &event.kind,
            &event.subject,
            event.time.to_text(),
            rows::to_json(event)
        ],
    )
    .await?;
    Ok(())
}

/// Builds the envelope of `event` (a type of the catalogue, with its payload) and appends it.
pub async fn emit(
    conn: &mut Conn,
    event: Event<'_>,
    subject: &str,
    actor: &str,
) -> Result<(), Error> {
    let envelope =
        CloudEvent::of(&event, subject, actor).map_err(|e| Error::internal(e.to_string()))?;
    append(conn, &envelope).await
}

/// [`emit`] for many events at once, in few statements (see [`crate::sql::insert_rows`]).
pub async fn emit_all(
    conn: &mut Conn,
    events: &[(Event<'_>, &str)],
    actor: &str,
) -> Result<(), Error> {
    let mut values = Vec::with_capacity(events.len());
    for (event, subject) in events {
        let e =
            CloudEvent::of(event, subject, actor).map_err(|e| Error::internal(e.to_string()))?;
        values.push(
            params![
                &e.id,
                &e.kind,
                &e.subject,
                e.time.to_text(),
                rows::to_json(&e)
            ]
            .to_vec(),
        );
    }
    crate::sql::insert_rows(
        conn,
        "INSERT INTO outbox (id, type, subject, time, envelope) VALUES ",
        (5, ""),
        values,
    )
    .await
}

/// A stored event with its position in the outbox.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: CloudEvent,
}

/// Events in outbox order, optionally of one type or about one subject.
pub async fn list(
    db: &Db,
    kind: Option<&str>,
    subject: Option<&str>,
    page: &PageRequest,
) -> Result<Page<StoredEvent>, Error> {
    let after = page.after_seq()?;
    let found = db
        .read()
        .await?
        .query(
            "SELECT seq, envelope FROM outbox
             WHERE seq > $1 AND ($2 = '' OR type = $2) AND ($3 = '' OR subject = $3)
             ORDER BY seq LIMIT $4",
            params![
                after,
                kind.unwrap_or(""),
                subject.unwrap_or(""),
                page.fetch_limit()
            ],
        )
        .await?;
    let events = found
        .iter()
        .map(|r| {
            Ok(StoredEvent {
                seq: r.int("seq")?,
                event: rows::json(r, "envelope")?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Page::from_rows(events, page, |e| e.seq.to_string()))
}

/// The newest event's sequence number (0 for an empty outbox).
pub async fn last_seq(db: &Db) -> Result<i64, Error> {
    db.read()
        .await?
        .query_one("SELECT COALESCE(MAX(seq), 0) AS n FROM outbox", &[])
        .await?
        .int("n")
}

/// How many events the outbox holds (tests and metrics).
pub async fn count(db: &Db) -> Result<i64, Error> {
    db.read()
        .await?
        .query_one("SELECT COUNT(*) AS n FROM outbox", &[])
        .await?
        .int("n")
}
