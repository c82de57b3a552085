//! Service history in SQL.

use customers::{Direction, Interaction, InteractionMedium};
use kernel::{Error, Page, PageRequest};
use outbox::Event;
use outbox::payloads::InteractionRecorded;

use crate::sql::{Conn, Row, corrupt};
use crate::{Db, events, params, rows};

const COLUMNS: &str = "id, customer_id, medium, direction, summary, agent, location_code, refs, occurred_at, recorded_at";

fn from_row(row: &Row) -> Result<Interaction, Error> {
    let medium = row.text("medium")?;
    let direction = row.text("direction")?;
    Ok(Interaction {
        id: row.text("id")?,
        customer_id: row.text("customer_id")?,
        medium: InteractionMedium::parse(&medium).ok_or_else(|| corrupt("medium", &medium))?,
        direction: Direction::parse(&direction).ok_or_else(|| corrupt("direction", &direction))?,
        summary: row.text("summary")?,
        agent: row.opt_text("agent")?,
        location_code: row.opt_text("location_code")?,
        references: rows::json(row, "refs")?,
        occurred_at: rows::timestamp(row, "occurred_at")?,
        recorded_at: rows::timestamp(row, "recorded_at")?,
    })
}

/// Records an interaction (its customer already resolved to the active profile).
pub async fn record(conn: &mut Conn, i: &Interaction, actor: &str) -> Result<(), Error> {
    if let Some(code) = &i.location_code
        && crate::locations::find_location(&mut *conn, code)
            .await?
            .is_none()
    {
        return Err(Error::unknown_reference("location_code", "location", code));
    }
    conn.execute(
        &format!("INSERT INTO interactions ({COLUMNS}, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
        params![
            &i.id,
            &i.customer_id,
            i.medium.as_str(),
            i.direction.as_str(),
            &i.summary,
            &i.agent,
            &i.location_code,
            rows::to_json(&i.references),
            i.occurred_at.to_text(),
            i.recorded_at.to_text(),
            actor
        ],
    )
    .await?;
    // The summary is personal data: the event names the interaction, consumers read it here.
    let recorded = InteractionRecorded {
        id: i.id.clone(),
        customer_id: i.customer_id.clone(),
        medium: i.medium,
        direction: i.direction,
        location_code: i.location_code.clone(),
        references: i.references.clone(),
        occurred_at: i.occurred_at,
    };
    let event = Event::CustomerInteractionRecorded(&recorded);
    events::emit(conn, event, &i.customer_id, actor).await
}

/// A profile's interactions, newest first (cursor: the last id; ids sort by creation).
pub async fn list(
    db: &Db,
    customer_id: &str,
    page: &PageRequest,
) -> Result<Page<Interaction>, Error> {
    let found = db
        .read()
        .await?
        .query(
            &format!(
                "SELECT {COLUMNS} FROM interactions WHERE customer_id = $1 AND ($2 = '' OR id < $2)
                 ORDER BY id DESC LIMIT $3"
            ),
            params![
                customer_id,
                page.after.clone().unwrap_or_default(),
                page.fetch_limit()
            ],
        )
        .await?;
    let items = found.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(items, page, |i| i.id.clone()))
}

/// Every interaction of a profile, oldest first (exports).
pub async fn all_of(conn: &mut Conn, customer_id: &str) -> Result<Vec<Interaction>, Error> {
    conn.query(
        &format!(
            "SELECT {COLUMNS} FROM interactions WHERE customer_id = $1 ORDER BY occurred_at, id"
        ),
        params![customer_id],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}
