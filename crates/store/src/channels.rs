//! Channels in SQL. A kiosk or POS channel must name an existing store.

use catalog::{Channel, ChannelKind, LocationKind};
use kernel::{Error, ErrorCode, Page, PageRequest};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool};

use crate::error::DbResultExt;
use crate::events;
use crate::rows;

fn from_row(row: &AnyRow) -> Result<Channel, Error> {
    let kind = rows::text(row, "kind")?;
    Ok(Channel {
        code: rows::text(row, "code")?,
        kind: ChannelKind::parse(&kind).ok_or_else(|| rows::corrupt("kind", &kind))?,
        name: rows::text(row, "name")?,
        location_code: rows::opt_text(row, "location_code")?,
        created_at: rows::timestamp(row, "created_at")?,
    })
}

pub async fn create_channel(conn: &mut AnyConnection, c: &Channel, actor: &str) -> Result<(), Error> {
    if let Some(code) = &c.location_code {
        let location = crate::locations::find_location(&mut *conn, code)
            .await?
            .ok_or_else(|| Error::unknown_reference("location_code", "location", code))?;
        if location.kind != LocationKind::Store {
            return Err(Error::validation("location_code", "kiosk and POS channels stand in a store"));
        }
    }
    sqlx::query("INSERT INTO channels (code, kind, name, location_code, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&c.code)
        .bind(c.kind.as_str())
        .bind(&c.name)
        .bind(&c.location_code)
        .bind(c.created_at.to_text())
        .execute(&mut *conn)
        .await
        .db("insert channel")
        .map_err(|e| if e.code == ErrorCode::AlreadyExists { Error::already_exists("channel", &c.code).with("field", "code") } else { e })?;
    events::emit(conn, "relais.channel.created", &c.code, actor, c).await
}

pub async fn find_channel(conn: &mut AnyConnection, code: &str) -> Result<Option<Channel>, Error> {
    sqlx::query("SELECT code, kind, name, location_code, created_at FROM channels WHERE code = $1")
        .bind(code)
        .fetch_optional(conn)
        .await
        .db("get channel")?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn get_channel(db: &AnyPool, code: &str) -> Result<Channel, Error> {
    let mut conn = db.acquire().await.db("acquire")?;
    find_channel(&mut conn, code).await?.ok_or_else(|| Error::not_found("channel", code))
}

/// Channels in code order, optionally those of one store.
pub async fn list_channels(db: &AnyPool, location_code: Option<&str>, page: &PageRequest) -> Result<Page<Channel>, Error> {
    let found = sqlx::query(
        "SELECT code, kind, name, location_code, created_at FROM channels
         WHERE code > $1 AND ($2 = '' OR location_code = $2) ORDER BY code LIMIT $3",
    )
    .bind(page.after.clone().unwrap_or_default())
    .bind(location_code.unwrap_or(""))
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await
    .db("list channels")?;
    let channels = found.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(channels, page, |c| c.code.clone()))
}

/// Every channel code (small: a retailer has tens to hundreds of channels).
pub async fn all_channels(db: &AnyPool) -> Result<Vec<Channel>, Error> {
    sqlx::query("SELECT code, kind, name, location_code, created_at FROM channels ORDER BY code")
        .fetch_all(db)
        .await
        .db("all channels")?
        .iter()
        .map(from_row)
        .collect()
}
