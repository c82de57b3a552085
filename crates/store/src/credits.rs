//! Store credit in SQL: issued by a return, spent at any checkout of any channel, given back
//! when an order it paid for is cancelled or returned.
//!
//! Spending is a conditional write (`… WHERE balance_minor >= $amount`), so one credit can
//! never pay for more than it holds, whatever two tills or two nodes try at once. A credit
//! issued to a customer pays only for that customer's orders (it follows the customer
//! through profile merges); a credit issued without a customer is a bearer voucher.

use kernel::{Currency, Error, ErrorCode, Timestamp};
use outbox::Event;
use outbox::payloads::CreditMoved;
use serde::Serialize;

use crate::sql::{Conn, Row};
use crate::{Db, events, params, rows};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreCredit {
    pub id: String,
    pub customer_id: Option<String>,
    pub currency: Currency,
    /// What the return credited.
    pub amount_minor: i64,
    /// What is left to spend.
    pub balance_minor: i64,
    /// The return that issued it.
    pub return_id: String,
    pub created_at: Timestamp,
}

fn from_row(r: &Row) -> Result<StoreCredit, Error> {
    Ok(StoreCredit {
        id: r.text("id")?,
        customer_id: r.opt_text("customer_id")?,
        currency: rows::currency(r, "currency")?,
        amount_minor: r.int("amount_minor")?,
        balance_minor: r.int("balance_minor")?,
        return_id: r.text("return_id")?,
        created_at: rows::timestamp(r, "created_at")?,
    })
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<StoreCredit>, Error> {
    conn.query_opt("SELECT * FROM store_credits WHERE id = $1", params![id])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn get(db: &Db, id: &str) -> Result<StoreCredit, Error> {
    find(&mut db.read().await?, id)
        .await?
        .ok_or_else(|| Error::not_found("store credit", id))
}

/// A customer's credits, newest first.
pub async fn of_customer(db: &Db, customer_id: &str) -> Result<Vec<StoreCredit>, Error> {
    db.read()
        .await?
        .query(
            "SELECT * FROM store_credits WHERE customer_id = $1 ORDER BY created_at DESC, id DESC",
            params![customer_id],
        )
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Spends `amount` of a credit for `customer`'s order, or refuses: unknown credit, another
/// customer's, another currency, or not enough left (also when spent meanwhile).
pub async fn spend(
    conn: &mut Conn,
    id: &str,
    amount: i64,
    currency: Currency,
    customer: Option<&str>,
    order_id: &str,
    actor: &str,
) -> Result<(), Error> {
    let spent = conn
        .execute(
            "UPDATE store_credits SET balance_minor = balance_minor - $2
             WHERE id = $1 AND balance_minor >= $2 AND currency = $3
               AND (customer_id IS NULL OR customer_id = $4)",
            params![id, amount, currency.code(), customer.unwrap_or("")],
        )
        .await?;
    if spent != 1 {
        let credit = find(conn, id).await?.ok_or_else(|| {
            Error::unknown_reference("payment.store_credit_id", "store credit", id)
        })?;
        let why = if credit.currency != currency {
            format!(
                "the credit is in {}, the order in {}",
                credit.currency.code(),
                currency.code()
            )
        } else if credit.customer_id.is_some() && credit.customer_id.as_deref() != customer {
            "the credit belongs to another customer".to_owned()
        } else {
            format!("the credit holds {}, not {amount}", credit.balance_minor)
        };
        return Err(Error::new(ErrorCode::Conflict, why)
            .with("store_credit_id", id)
            .with("balance_minor", credit.balance_minor));
    }
    let spent = CreditMoved {
        store_credit_id: id.to_owned(),
        order_id: order_id.to_owned(),
        amount_minor: amount,
        currency,
    };
    events::emit(conn, Event::StoreCreditSpent(&spent), id, actor).await
}

/// Gives `amount` back to a credit (the order it paid for was cancelled or returned).
pub async fn give_back(
    conn: &mut Conn,
    id: &str,
    amount: i64,
    order_id: &str,
    actor: &str,
) -> Result<(), Error> {
    let credited = conn
        .query_opt(
            "UPDATE store_credits SET balance_minor = balance_minor + $2 WHERE id = $1 RETURNING currency",
            params![id, amount],
        )
        .await?
        .ok_or_else(|| Error::internal(format!("store credit {id} of a payment is missing")))?;
    let currency = rows::currency(&credited, "currency")?;
    let credited = CreditMoved {
        store_credit_id: id.to_owned(),
        order_id: order_id.to_owned(),
        amount_minor: amount,
        currency,
    };
    events::emit(conn, Event::StoreCreditCredited(&credited), id, actor).await
}
