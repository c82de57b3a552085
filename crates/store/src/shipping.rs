//! Shipping methods in SQL: one row per method, the method itself as JSON (decided by
//! `orders::delivery`), in the order they are offered.

use kernel::{Error, Timestamp};
use orders::delivery::ShippingMethod;
use outbox::Event;

use crate::sql::Conn;
use crate::{events, params, rows};

/// Every method, in the order they are offered (a handful: read whole).
pub async fn all(conn: &mut Conn) -> Result<Vec<ShippingMethod>, Error> {
    conn.query(
        "SELECT method FROM shipping_methods ORDER BY position, code",
        &[],
    )
    .await?
    .iter()
    .map(|r| rows::json(r, "method"))
    .collect()
}

/// Sets a method (insert or replace).
pub async fn set(conn: &mut Conn, method: &ShippingMethod, actor: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO shipping_methods (code, method, position, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (code) DO UPDATE SET method = excluded.method, position = excluded.position,
                                         updated_at = excluded.updated_at",
        params![
            &method.code,
            rows::to_json(method),
            method.position,
            Timestamp::now().to_text()
        ],
    )
    .await?;
    events::emit(conn, Event::ShippingMethodSet(method), &method.code, actor).await
}
