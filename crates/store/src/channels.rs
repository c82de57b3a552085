//! Channels in SQL. A kiosk or POS channel must name an existing store.

use catalog::{Channel, ChannelKind, LocationKind};
use kernel::{Error, ErrorCode, Page, PageRequest};
use outbox::Event;

use crate::rows;
use crate::sql::{Conn, Row, corrupt};
use crate::{Db, events, params};

fn from_row(row: &Row) -> Result<Channel, Error> {
    let kind = row.text("kind")?;
    Ok(Channel {
        code: row.text("code")?,
        kind: ChannelKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        name: row.text("name")?,
        location_code: row.opt_text("location_code")?,
        created_at: rows::timestamp(row, "created_at")?,
    })
}

pub async fn create_channel(conn: &mut Conn, c: &Channel, actor: &str) -> Result<(), Error> {
    if let Some(code) = &c.location_code {
        let location = crate::locations::find_location(&mut *conn, code)
            .await?
            .ok_or_else(|| Error::unknown_reference("location_code", "location", code))?;
        if location.kind != LocationKind::Store {
            return Err(Error::validation(
                "location_code",
                "kiosk and POS channels stand in a store",
            ));
        }
    }
    conn.execute(
        "INSERT INTO channels (code, kind, name, location_code, created_at) VALUES ($1, $2, $3, $4, $5)",
        params![&c.code, c.kind.as_str(), &c.name, &c.location_code, c.created_at.to_text()],
    )
    .await
    .map_err(|e| if e.code == ErrorCode::AlreadyExists { Error::already_exists("channel", &c.code).with("field", "code") } else { e })?;
    events::emit(conn, Event::ChannelCreated(c), &c.code, actor).await
}

pub async fn find_channel(conn: &mut Conn, code: &str) -> Result<Option<Channel>, Error> {
    conn.query_opt(
        "SELECT code, kind, name, location_code, created_at FROM channels WHERE code = $1",
        params![code],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub async fn get_channel(db: &Db, code: &str) -> Result<Channel, Error> {
    let mut conn = db.read().await?;
    find_channel(&mut conn, code)
        .await?
        .ok_or_else(|| Error::not_found("channel", code))
}

/// The channels bound to a store (its tills, its kiosks), in code order.
pub async fn bound_to(conn: &mut Conn, location: &str) -> Result<Vec<Channel>, Error> {
    conn.query(
        "SELECT code, kind, name, location_code, created_at FROM channels WHERE location_code = $1 ORDER BY code",
        params![location],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// A store's till: its `pos` channel, else the first channel bound to it.
pub async fn till_of(conn: &mut Conn, location: &str) -> Result<Option<String>, Error> {
    let bound = bound_to(conn, location).await?;
    let till = bound
        .iter()
        .find(|c| c.kind == catalog::ChannelKind::Pos)
        .or(bound.first());
    Ok(till.map(|c| c.code.clone()))
}

/// Channels in code order, optionally those of one store.
pub async fn list_channels(
    db: &Db,
    location_code: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Channel>, Error> {
    let found = db
        .read()
        .await?
        .query(
            "SELECT code, kind, name, location_code, created_at FROM channels
             WHERE code > $1 AND ($2 = '' OR location_code = $2) ORDER BY code LIMIT $3",
            params![
                page.after.clone().unwrap_or_default(),
                location_code.unwrap_or(""),
                page.fetch_limit()
            ],
        )
        .await?;
    let channels = found.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(channels, page, |c| c.code.clone()))
}

/// Up to `limit` channels after `after`, in code order.
pub async fn channels_after(
    conn: &mut Conn,
    after: &str,
    limit: i64,
) -> Result<Vec<Channel>, Error> {
    conn.query(
        "SELECT code, kind, name, location_code, created_at FROM channels WHERE code > $1 ORDER BY code LIMIT $2",
        params![after, limit],
    )
    .await?
    .iter()
        .map(from_row)
        .collect()
}
