//! Customers' saved postal addresses: a few per profile, one of them the default; deleted
//! with the person on erasure ([`crate::gdpr`]).

use kernel::{Error, ErrorCode, Timestamp};
use orders::delivery::PostalAddress;
use serde::Serialize;

use crate::sql::{Conn, Row};
use crate::{params, rows};

/// How many addresses a profile keeps.
pub const MAX_PER_CUSTOMER: i64 = 20;

/// A saved address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedAddress {
    pub id: String,
    pub customer_id: String,
    /// The customer's name for it (`Home`, `Office`…).
    pub label: Option<String>,
    pub address: PostalAddress,
    pub is_default: bool,
    pub created_at: Timestamp,
}

fn from_row(row: &Row) -> Result<SavedAddress, Error> {
    Ok(SavedAddress {
        id: row.text("id")?,
        customer_id: row.text("customer_id")?,
        label: row.opt_text("label")?,
        address: rows::json(row, "address")?,
        is_default: row.int("is_default")? != 0,
        created_at: rows::timestamp(row, "created_at")?,
    })
}

const COLUMNS: &str = "id, customer_id, label, address, is_default, created_at";

/// A customer's addresses, the default first, then oldest first.
pub async fn of_customer(conn: &mut Conn, customer_id: &str) -> Result<Vec<SavedAddress>, Error> {
    conn.query(
        &format!(
            "SELECT {COLUMNS} FROM customer_addresses WHERE customer_id = $1
             ORDER BY is_default DESC, created_at, id"
        ),
        params![customer_id],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// One of a customer's addresses.
pub async fn find(
    conn: &mut Conn,
    customer_id: &str,
    id: &str,
) -> Result<Option<SavedAddress>, Error> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM customer_addresses WHERE customer_id = $1 AND id = $2"),
        params![customer_id, id],
    )
    .await?
    .map(|r| from_row(&r))
    .transpose()
}

/// Saves an address (validated by the caller); the first one, or one saved as default,
/// becomes the default. At most [`MAX_PER_CUSTOMER`].
pub async fn add(
    conn: &mut Conn,
    customer_id: &str,
    label: Option<String>,
    address: &PostalAddress,
    make_default: bool,
    now: Timestamp,
) -> Result<SavedAddress, Error> {
    let customer_id = crate::profiles::active_id(conn, customer_id).await?;
    let count = conn
        .query_one(
            "SELECT COUNT(*) AS n FROM customer_addresses WHERE customer_id = $1",
            params![&customer_id],
        )
        .await?
        .int("n")?;
    if count >= MAX_PER_CUSTOMER {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("a customer keeps at most {MAX_PER_CUSTOMER} addresses; delete one first"),
        ));
    }
    let is_default = make_default || count == 0;
    if is_default {
        conn.execute(
            "UPDATE customer_addresses SET is_default = 0 WHERE customer_id = $1",
            params![&customer_id],
        )
        .await?;
    }
    let saved = SavedAddress {
        id: kernel::id::new_id("adr"),
        customer_id,
        label,
        address: address.clone(),
        is_default,
        created_at: now,
    };
    conn.execute(
        "INSERT INTO customer_addresses (id, customer_id, label, address, is_default, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        params![
            &saved.id,
            &saved.customer_id,
            &saved.label,
            rows::to_json(&saved.address),
            is_default,
            now.to_text()
        ],
    )
    .await?;
    Ok(saved)
}

/// Deletes one of a customer's addresses; the oldest left becomes the default if it was.
pub async fn delete(conn: &mut Conn, customer_id: &str, id: &str) -> Result<(), Error> {
    let gone = find(conn, customer_id, id)
        .await?
        .ok_or_else(|| Error::not_found("address", id))?;
    conn.execute(
        "DELETE FROM customer_addresses WHERE customer_id = $1 AND id = $2",
        params![customer_id, id],
    )
    .await?;
    if gone.is_default
        && let Some(next) = of_customer(conn, customer_id).await?.first()
    {
        conn.execute(
            "UPDATE customer_addresses SET is_default = 1 WHERE id = $1",
            params![&next.id],
        )
        .await?;
    }
    Ok(())
}

/// Deletes every address of a customer (erasure); answers their texts, which stored
/// responses may quote.
pub async fn delete_all(conn: &mut Conn, customer_id: &str) -> Result<Vec<String>, Error> {
    let quoted = of_customer(conn, customer_id)
        .await?
        .into_iter()
        .flat_map(|a| personal_texts(&a.address))
        .collect();
    conn.execute(
        "DELETE FROM customer_addresses WHERE customer_id = $1",
        params![customer_id],
    )
    .await?;
    Ok(quoted)
}

/// What in an address names or locates the person.
pub fn personal_texts(a: &PostalAddress) -> Vec<String> {
    [
        Some(&a.name),
        Some(&a.line1),
        a.line2.as_ref(),
        a.phone.as_ref(),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect()
}
