//! Back-in-stock requests: a customer asks, on any channel, to be told when a product is
//! available again at a store. A request is open until it is notified or withdrawn; a
//! customer has one open request per product and store.

use kernel::{Error, ErrorCode, Timestamp};
use serde::Serialize;

use crate::sql::{Conn, Row};
use crate::{params, rows};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockAlert {
    pub id: String,
    pub customer_id: String,
    pub sku: String,
    pub location: String,
    pub channel: Option<String>,
    /// `open`, `notified` or `cancelled`.
    pub status: String,
    pub created_at: Timestamp,
    pub notified_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, customer_id, sku, location, channel, status, created_at, notified_at";

fn from_row(r: &Row) -> Result<StockAlert, Error> {
    Ok(StockAlert {
        id: r.text("id")?,
        customer_id: r.text("customer_id")?,
        sku: r.text("sku")?,
        location: r.text("location")?,
        channel: r.opt_text("channel")?,
        status: r.text("status")?,
        created_at: rows::timestamp(r, "created_at")?,
        notified_at: rows::opt_timestamp(r, "notified_at")?,
    })
}

/// Opens a request, or answers the one already open for the same product and store.
pub async fn open(conn: &mut Conn, a: &StockAlert) -> Result<StockAlert, Error> {
    let n = conn
        .execute(
            &format!(
                "INSERT INTO stock_alerts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, 'open', $6, NULL)
                 ON CONFLICT (customer_id, sku, location) WHERE status = 'open' DO NOTHING"
            ),
            params![
                &a.id,
                &a.customer_id,
                &a.sku,
                &a.location,
                &a.channel,
                a.created_at.to_text()
            ],
        )
        .await?;
    let id = match n {
        1 => a.id.clone(),
        _ => conn
            .query_one(
                "SELECT id FROM stock_alerts WHERE customer_id = $1 AND sku = $2 AND location = $3 AND status = 'open'",
                params![&a.customer_id, &a.sku, &a.location],
            )
            .await?
            .text("id")?,
    };
    get(conn, &id).await
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<StockAlert, Error> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM stock_alerts WHERE id = $1"),
        params![id],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()?
    .ok_or_else(|| Error::not_found("stock alert", id))
}

/// A customer's requests, newest first.
pub async fn of_customer(conn: &mut Conn, customer_id: &str) -> Result<Vec<StockAlert>, Error> {
    conn.query(
        &format!("SELECT {COLUMNS} FROM stock_alerts WHERE customer_id = $1 ORDER BY created_at DESC, id DESC LIMIT 200"),
        params![customer_id],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Withdraws an open request.
pub async fn cancel(conn: &mut Conn, id: &str, now: Timestamp) -> Result<StockAlert, Error> {
    let n = conn
        .execute(
            "UPDATE stock_alerts SET status = 'cancelled', notified_at = $2 WHERE id = $1 AND status = 'open'",
            params![id, now.to_text()],
        )
        .await?;
    let alert = get(conn, id).await?;
    if n != 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("the request is {} already", alert.status),
        ));
    }
    Ok(alert)
}

/// The open requests for these (SKU, location) pairs, marked notified in the same command.
pub async fn take_open_for(
    conn: &mut Conn,
    items: &[(String, String)],
    now: Timestamp,
) -> Result<Vec<StockAlert>, Error> {
    let mut taken = Vec::new();
    for (sku, location) in items {
        let found = conn
            .query(
                &format!(
                    "UPDATE stock_alerts SET status = 'notified', notified_at = $3
                     WHERE sku = $1 AND location = $2 AND status = 'open'
                     RETURNING {COLUMNS}"
                ),
                params![sku, location, now.to_text()],
            )
            .await?;
        for r in &found {
            taken.push(from_row(r)?);
        }
    }
    Ok(taken)
}
