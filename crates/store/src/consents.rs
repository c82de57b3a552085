//! The consent log in SQL: records are appended, never updated; the current state and every
//! "may I?" are computed from them by `customers::consent`.

use customers::{CollectionMethod, ConsentRecord, ConsentStatus, Evidence, Purpose};
use kernel::Error;
use outbox::Event;

use crate::sql::{Conn, Row, corrupt};
use crate::{events, params, rows};

const COLUMNS: &str = "id, customer_id, purpose, status, channel, method, location_code, notice_version, request_id, staff_id, recorded_at";

fn from_row(row: &Row) -> Result<ConsentRecord, Error> {
    let purpose = row.text("purpose")?;
    let status = row.text("status")?;
    let method = row.text("method")?;
    Ok(ConsentRecord {
        id: row.text("id")?,
        customer_id: row.text("customer_id")?,
        purpose: Purpose::parse(&purpose).ok_or_else(|| corrupt("purpose", &purpose))?,
        status: ConsentStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        channel: row.opt_text("channel")?,
        method: CollectionMethod::parse(&method).ok_or_else(|| corrupt("method", &method))?,
        location_code: row.opt_text("location_code")?,
        notice_version: row.text("notice_version")?,
        evidence: Evidence {
            request_id: row.opt_text("request_id")?,
            staff_id: row.opt_text("staff_id")?,
        },
        recorded_at: rows::timestamp(row, "recorded_at")?,
    })
}

/// Appends a record (its customer already resolved to the active profile) and its event.
pub async fn record(conn: &mut Conn, r: &ConsentRecord, actor: &str) -> Result<(), Error> {
    if let Some(channel) = &r.channel
        && crate::channels::find_channel(&mut *conn, channel)
            .await?
            .is_none()
    {
        return Err(Error::unknown_reference("channel", "channel", channel));
    }
    if let Some(code) = &r.location_code
        && crate::locations::find_location(&mut *conn, code)
            .await?
            .is_none()
    {
        return Err(Error::unknown_reference("location_code", "location", code));
    }
    conn.execute(
        &format!("INSERT INTO consents ({COLUMNS}, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
        params![
            &r.id,
            &r.customer_id,
            r.purpose.as_str(),
            r.status.as_str(),
            &r.channel,
            r.method.as_str(),
            &r.location_code,
            &r.notice_version,
            &r.evidence.request_id,
            &r.evidence.staff_id,
            r.recorded_at.to_text(),
            actor
        ],
    )
    .await?;
    events::emit(conn, Event::consent(r), &r.customer_id, actor).await
}

/// A profile's records in the order they were appended.
pub async fn records(conn: &mut Conn, customer_id: &str) -> Result<Vec<ConsentRecord>, Error> {
    conn.query(
        &format!("SELECT {COLUMNS} FROM consents WHERE customer_id = $1 ORDER BY seq"),
        params![customer_id],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}
