//! Stored value in SQL: gift cards and store credit, one kind of account with one ledger.
//!
//! An account's balance moves only by a conditional write (`… WHERE balance_minor >= $amount`)
//! in the same command as the ledger entry that explains it, so one card or credit can never
//! pay for more than it holds, whatever two tills or two nodes try at once. A credit issued to
//! a customer pays only for that customer's orders (it follows the customer through profile
//! merges); a gift card, or a credit issued without a customer, pays for anyone's. A gift card
//! is found by the hash of its code and proven by its PIN's hash; neither is kept in clear.

use kernel::{Currency, Error, ErrorCode, Timestamp};
use outbox::Event;
use outbox::payloads::{CreditMoved, ValueMoved};
use serde::Serialize;

use crate::sql::{Conn, Row, corrupt};
use crate::{Db, events, params, rows};

/// What an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Store credit: from a return, or issued by service with a reason.
    Credit,
    /// A gift card, sold as a product on any channel.
    GiftCard,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Credit => "credit",
            Kind::GiftCard => "gift_card",
        }
    }

    fn parse(text: &str) -> Result<Kind, Error> {
        match text {
            "credit" => Ok(Kind::Credit),
            "gift_card" => Ok(Kind::GiftCard),
            other => Err(corrupt("kind", other)),
        }
    }

    /// The account named in an error.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Credit => "store credit",
            Kind::GiftCard => "gift card",
        }
    }
}

/// A gift card or a store credit. Its code's and PIN's hashes stay in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: String,
    pub kind: Kind,
    /// `active`, or `void` (the sale that bought it was cancelled).
    pub status: String,
    pub customer_id: Option<String>,
    pub currency: Currency,
    /// What it was issued with.
    pub amount_minor: i64,
    /// What is left to spend.
    pub balance_minor: i64,
    /// A gift card's code's last four characters, to tell cards apart.
    pub code_hint: Option<String>,
    pub expires_at: Option<Timestamp>,
    /// The return that issued a credit.
    pub return_id: Option<String>,
    /// The order that bought a gift card.
    pub order_id: Option<String>,
    /// Why service issued a credit by hand.
    pub reason: Option<String>,
    pub issued_by: String,
    pub created_at: Timestamp,
    #[serde(skip)]
    pub pin_hash: Option<String>,
    #[serde(skip)]
    pub pin_failures: i64,
}

impl Account {
    /// Whether it can pay now: active, with a balance, not expired.
    pub fn spendable(&self, now: Timestamp) -> bool {
        self.status == "active" && self.balance_minor > 0 && self.expires_at.is_none_or(|t| t > now)
    }
}

/// One movement on an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub seq: i64,
    /// `issue`, `spend`, `give_back`, `expire` or `void`.
    pub kind: String,
    /// Signed: positive adds value.
    pub amount_minor: i64,
    pub balance_after: i64,
    pub order_id: Option<String>,
    pub reason: Option<String>,
    pub at: Timestamp,
    pub actor: String,
}

/// An account to open.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: String,
    pub kind: Kind,
    pub customer_id: Option<String>,
    pub currency: Currency,
    pub amount_minor: i64,
    pub code_hash: Option<String>,
    pub code_hint: Option<String>,
    pub pin_hash: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub return_id: Option<String>,
    pub order_id: Option<String>,
    pub reason: Option<String>,
    pub at: Timestamp,
}

const ACCOUNT: &str =
    "id, kind, status, customer_id, currency, amount_minor, balance_minor, code_hint, expires_at,
                       return_id, order_id, reason, issued_by, created_at, pin_hash, pin_failures";

fn from_row(r: &Row) -> Result<Account, Error> {
    Ok(Account {
        id: r.text("id")?,
        kind: Kind::parse(&r.text("kind")?)?,
        status: r.text("status")?,
        customer_id: r.opt_text("customer_id")?,
        currency: rows::currency(r, "currency")?,
        amount_minor: r.int("amount_minor")?,
        balance_minor: r.int("balance_minor")?,
        code_hint: r.opt_text("code_hint")?,
        expires_at: rows::opt_timestamp(r, "expires_at")?,
        return_id: r.opt_text("return_id")?,
        order_id: r.opt_text("order_id")?,
        reason: r.opt_text("reason")?,
        issued_by: r.text("issued_by")?,
        created_at: rows::timestamp(r, "created_at")?,
        pin_hash: r.opt_text("pin_hash")?,
        pin_failures: r.int("pin_failures")?,
    })
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Account>, Error> {
    let sql = format!("SELECT {ACCOUNT} FROM stored_value WHERE id = $1");
    conn.query_opt(&sql, params![id])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The gift card whose code hashes to `code_hash`.
pub async fn by_code(conn: &mut Conn, code_hash: &str) -> Result<Option<Account>, Error> {
    let sql = format!("SELECT {ACCOUNT} FROM stored_value WHERE code_hash = $1");
    conn.query_opt(&sql, params![code_hash])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn get(db: &Db, id: &str) -> Result<Account, Error> {
    find(&mut db.read().await?, id)
        .await?
        .ok_or_else(|| Error::not_found("stored value", id))
}

/// A customer's credits and cards, newest first.
pub async fn of_customer(db: &Db, customer_id: &str) -> Result<Vec<Account>, Error> {
    let sql = format!(
        "SELECT {ACCOUNT} FROM stored_value WHERE customer_id = $1 ORDER BY created_at DESC, id DESC"
    );
    db.read()
        .await?
        .query(&sql, params![customer_id])
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The gift cards an order bought.
pub async fn of_order(conn: &mut Conn, order_id: &str) -> Result<Vec<Account>, Error> {
    let sql = format!(
        "SELECT {ACCOUNT} FROM stored_value WHERE order_id = $1 AND kind = 'gift_card' ORDER BY id"
    );
    conn.query(&sql, params![order_id])
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// An account's ledger, oldest first.
pub async fn entries(conn: &mut Conn, id: &str) -> Result<Vec<Entry>, Error> {
    conn.query(
        "SELECT seq, kind, amount_minor, balance_after, order_id, reason, at, actor
         FROM stored_value_entries WHERE account_id = $1 ORDER BY seq",
        params![id],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Entry {
            seq: r.int("seq")?,
            kind: r.text("kind")?,
            amount_minor: r.int("amount_minor")?,
            balance_after: r.int("balance_after")?,
            order_id: r.opt_text("order_id")?,
            reason: r.opt_text("reason")?,
            at: rows::timestamp(r, "at")?,
            actor: r.text("actor")?,
        })
    })
    .collect()
}

/// Opens an account with its value, and its first ledger entry.
pub async fn open(conn: &mut Conn, a: &NewAccount, actor: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO stored_value (id, kind, status, customer_id, currency, amount_minor, balance_minor, code_hash,
                                   code_hint, pin_hash, expires_at, return_id, order_id, reason, issued_by, created_at)
         VALUES ($1, $2, 'active', $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        params![
            &a.id, a.kind.as_str(), &a.customer_id, a.currency.code(), a.amount_minor, &a.code_hash,
            &a.code_hint, &a.pin_hash, a.expires_at.map(|t| t.to_text()), &a.return_id, &a.order_id,
            &a.reason, actor, a.at.to_text()
        ],
    )
    .await?;
    let moved = Moved {
        kind: "issue",
        amount: a.amount_minor,
        balance: a.amount_minor,
        order_id: a.order_id.as_deref(),
        reason: a.reason.as_deref(),
        at: a.at,
    };
    record(conn, (&a.id, a.kind, a.currency), moved, actor).await
}

/// One movement to record: the ledger entry and its event.
struct Moved<'a> {
    kind: &'static str,
    amount: i64,
    balance: i64,
    order_id: Option<&'a str>,
    reason: Option<&'a str>,
    at: Timestamp,
}

async fn record(
    conn: &mut Conn,
    (id, kind, currency): (&str, Kind, Currency),
    m: Moved<'_>,
    actor: &str,
) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO stored_value_entries (account_id, kind, amount_minor, balance_after, order_id, reason, at, actor)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        params![id, m.kind, m.amount, m.balance, m.order_id, m.reason, m.at.to_text(), actor],
    )
    .await?;
    let credit = CreditMoved {
        store_credit_id: id.to_owned(),
        order_id: m.order_id.unwrap_or_default().to_owned(),
        amount_minor: m.amount.abs(),
        currency,
    };
    let value = ValueMoved {
        account_id: id.to_owned(),
        kind: kind.as_str().to_owned(),
        amount_minor: m.amount,
        balance_minor: m.balance,
        currency,
        order_id: m.order_id.map(str::to_owned),
    };
    let event = match (kind, m.kind) {
        (Kind::Credit, "spend") => Event::StoreCreditSpent(&credit),
        (Kind::Credit, "give_back") => Event::StoreCreditCredited(&credit),
        (Kind::Credit, "issue") => Event::StoreCreditIssued(&value),
        (Kind::Credit, _) => Event::StoreCreditExpired(&value),
        (Kind::GiftCard, "issue") => Event::GiftCardIssued(&value),
        (Kind::GiftCard, "spend") => Event::GiftCardRedeemed(&value),
        (Kind::GiftCard, "give_back") => Event::GiftCardRefunded(&value),
        (Kind::GiftCard, "expire") => Event::GiftCardExpired(&value),
        (Kind::GiftCard, _) => Event::GiftCardVoided(&value),
    };
    events::emit(conn, event, id, actor).await
}

/// Who may spend, and for what.
#[derive(Debug, Clone, Copy)]
pub struct Spending<'a> {
    pub amount: i64,
    pub currency: Currency,
    pub customer: Option<&'a str>,
    pub order_id: &'a str,
    pub at: Timestamp,
}

/// Spends `s.amount` of account `id` for an order, or refuses: unknown, void, expired, another
/// customer's credit, another currency, or not enough left (also when spent meanwhile).
pub async fn spend(conn: &mut Conn, id: &str, s: Spending<'_>, actor: &str) -> Result<(), Error> {
    let row = conn
        .query_opt(
            "UPDATE stored_value SET balance_minor = balance_minor - $2
             WHERE id = $1 AND status = 'active' AND balance_minor >= $2 AND currency = $3
               AND (customer_id IS NULL OR kind = 'gift_card' OR customer_id = $4)
               AND (expires_at IS NULL OR expires_at > $5)
             RETURNING kind, balance_minor",
            params![
                id,
                s.amount,
                s.currency.code(),
                s.customer.unwrap_or(""),
                s.at.to_text()
            ],
        )
        .await?;
    let Some(row) = row else {
        return Err(refusal(conn, id, s).await);
    };
    let moved = Moved {
        kind: "spend",
        amount: -s.amount,
        balance: row.int("balance_minor")?,
        order_id: Some(s.order_id),
        reason: None,
        at: s.at,
    };
    let kind = Kind::parse(&row.text("kind")?)?;
    record(conn, (id, kind, s.currency), moved, actor).await
}

/// Why account `id` cannot pay `s`.
async fn refusal(conn: &mut Conn, id: &str, s: Spending<'_>) -> Error {
    let account = match find(conn, id).await {
        Ok(Some(a)) => a,
        Ok(None) => return Error::unknown_reference("payment", "stored value", id),
        Err(e) => return e,
    };
    let why = if account.status != "active" {
        format!("the {} is {}", account.kind.noun(), account.status)
    } else if account.expires_at.is_some_and(|t| t <= s.at) {
        format!("the {} has expired", account.kind.noun())
    } else if account.currency != s.currency {
        format!(
            "the {} is in {}, the order in {}",
            account.kind.noun(),
            account.currency.code(),
            s.currency.code()
        )
    } else if account.kind == Kind::Credit
        && account.customer_id.is_some()
        && account.customer_id.as_deref() != s.customer
    {
        "the credit belongs to another customer".to_owned()
    } else {
        format!(
            "the {} holds {}, not {}",
            account.kind.noun(),
            account.balance_minor,
            s.amount
        )
    };
    Error::new(ErrorCode::Conflict, why)
        .with("stored_value_id", id)
        .with("balance_minor", account.balance_minor)
}

/// Gives `amount` back to an account (the order it paid for was cancelled or returned).
pub async fn give_back(
    conn: &mut Conn,
    id: &str,
    amount: i64,
    order_id: &str,
    actor: &str,
) -> Result<(), Error> {
    let row = conn
        .query_opt(
            "UPDATE stored_value SET balance_minor = balance_minor + $2 WHERE id = $1
             RETURNING kind, currency, balance_minor",
            params![id, amount],
        )
        .await?
        .ok_or_else(|| Error::internal(format!("stored value {id} of a payment is missing")))?;
    let moved = Moved {
        kind: "give_back",
        amount,
        balance: row.int("balance_minor")?,
        order_id: Some(order_id),
        reason: None,
        at: Timestamp::now(),
    };
    let key = (
        id,
        Kind::parse(&row.text("kind")?)?,
        rows::currency(&row, "currency")?,
    );
    record(conn, key, moved, actor).await
}

/// Empties an account for good: `void` (its sale was cancelled) or `expire`. Nothing happens
/// to one already void, nor to an empty one expiring.
pub async fn close(
    conn: &mut Conn,
    id: &str,
    why: &'static str,
    at: Timestamp,
    actor: &str,
) -> Result<(), Error> {
    let Some(a) = find(conn, id).await? else {
        return Err(Error::not_found("stored value", id));
    };
    if a.status != "active" || (why != "void" && a.balance_minor == 0) {
        return Ok(());
    }
    let status = if why == "void" { "void" } else { "active" };
    // Conditional on the balance read: a payment meanwhile makes this a conflict, not a loss.
    let closed = conn
        .execute(
            "UPDATE stored_value SET status = $2, balance_minor = 0
             WHERE id = $1 AND status = 'active' AND balance_minor = $3",
            params![id, status, a.balance_minor],
        )
        .await?;
    if closed != 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("the {} moved meanwhile", a.kind.noun()),
        ));
    }
    if a.balance_minor == 0 {
        return Ok(());
    }
    let moved = Moved {
        kind: why,
        amount: -a.balance_minor,
        balance: 0,
        order_id: a.order_id.as_deref(),
        reason: None,
        at,
    };
    record(conn, (id, a.kind, a.currency), moved, actor).await
}

/// Accounts past their expiry date with a balance left, at most `limit`.
pub async fn due_to_expire(
    conn: &mut Conn,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<String>, Error> {
    conn.query(
        "SELECT id FROM stored_value WHERE expires_at IS NOT NULL AND balance_minor > 0 AND expires_at <= $1
           AND status = 'active' ORDER BY expires_at LIMIT $2",
        params![now.to_text(), limit],
    )
    .await?
    .iter()
    .map(|r| r.text("id"))
    .collect()
}

/// Counts a wrong PIN (`failed`), or clears the count after a right one.
pub async fn note_pin(conn: &mut Conn, id: &str, failed: bool) -> Result<(), Error> {
    let sql = if failed {
        "UPDATE stored_value SET pin_failures = pin_failures + 1 WHERE id = $1"
    } else {
        "UPDATE stored_value SET pin_failures = 0 WHERE id = $1 AND pin_failures <> 0"
    };
    conn.execute(sql, params![id]).await?;
    Ok(())
}

/// Erasure: the accounts and their ledgers stay (they are money owed), the reasons service
/// typed go (they may quote the person).
pub async fn erase(conn: &mut Conn, customer_id: &str) -> Result<(), Error> {
    conn.execute(
        "UPDATE stored_value_entries SET reason = NULL
         WHERE reason IS NOT NULL AND account_id IN (SELECT id FROM stored_value WHERE customer_id = $1)",
        params![customer_id],
    )
    .await?;
    conn.execute(
        "UPDATE stored_value SET reason = NULL WHERE customer_id = $1 AND reason IS NOT NULL",
        params![customer_id],
    )
    .await?;
    Ok(())
}
