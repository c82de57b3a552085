//! Stored value on every channel: gift cards sold as products and store credit, one ledger.
//!
//! A gift card is a catalogue product whose attributes say `stored_value: gift_card` (and
//! `valid_months`, 24 when absent). Each unit sold opens a card worth the unit's price when the
//! order is placed paid (a reservation, paid later at the till, cannot hold one); the card's
//! code and PIN are made here, hashed before the command runs (argon2 is slow and the writer
//! must not wait on it), and handed back once, with the first answer to the checkout. A cancelled,
//! no-show or expired order voids what its cards still hold.
//!
//! A card pays at any checkout on its code and PIN; five wrong PINs in a row block it until
//! service lets it pay again. Store credit is issued by returns, or by service with a reason.

use kernel::{Currency, Error, ErrorCode, Timestamp};
use orders::OrderState;
use sha2::{Digest, Sha256};
use store::orders::Order;
use store::stored_value::{Account, Entry, Kind, NewAccount};
use store::{Conn, Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;

/// Wrong PINs in a row after which a card stops paying.
pub const PIN_TRIES: i64 = 5;
/// How long a gift card is valid when its product does not say.
pub const DEFAULT_VALID_MONTHS: i64 = 24;
const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A card sold by this checkout, with what only its buyer ever sees (no `Debug`: never logged).
#[derive(Clone)]
pub struct IssuedCard {
    pub id: String,
    pub order_id: String,
    pub sku: String,
    /// 16 characters in four groups; only its hash is kept.
    pub code: String,
    /// Six digits; only its argon2 hash is kept.
    pub pin: String,
    pub amount_minor: i64,
    pub currency: Currency,
    pub expires_at: Option<Timestamp>,
}

/// A card's secrets, made and hashed before the command (no `Debug`: never logged).
#[derive(Clone)]
pub struct Prepared {
    sku: String,
    valid_months: i64,
    id: String,
    code: String,
    pin: String,
    code_hash: String,
    pin_hash: String,
}

/// How many months a gift card product is valid for, or `None` for another product.
pub fn gift_card_months(attributes: &std::collections::BTreeMap<String, String>) -> Option<i64> {
    (attributes.get("stored_value").map(String::as_str) == Some("gift_card")).then(|| {
        attributes
            .get("valid_months")
            .and_then(|m| m.parse().ok())
            .filter(|m: &i64| (0..=120).contains(m))
            .unwrap_or(DEFAULT_VALID_MONTHS)
    })
}

/// Normalises a code as typed (spaces, dashes, lower case) and hashes it for the look-up.
pub fn code_hash(code: &str) -> String {
    let clean: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    kernel::hex::encode(&Sha256::digest(clean.as_bytes()))
}

fn new_code() -> String {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| CODE_ALPHABET[usize::from(b % 32)] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

fn new_pin() -> String {
    format!("{:06}", uuid::Uuid::new_v4().as_u128() % 1_000_000)
}

/// The cards `lines` (SKU, units) would open: one per unit of a gift card product (`facts`,
/// as pricing read them). Refused in a reservation, which is paid only later at the till.
pub async fn prepare(
    facts: &std::collections::BTreeMap<String, store::catalog::ItemFacts>,
    lines: &[(String, i64)],
    reserved: impl Fn(&str) -> bool,
) -> Result<Vec<Prepared>, Error> {
    let mut wanted = Vec::new();
    for (sku, units) in lines {
        let Some(months) = facts.get(sku).and_then(|f| gift_card_months(&f.attributes)) else {
            continue;
        };
        if reserved(sku) {
            return Err(Error::validation(
                "mode",
                format!("`{sku}` is a gift card: it is sold paid, not reserved"),
            ));
        }
        wanted.extend((0..*units).map(|_| (sku.clone(), months)));
    }
    if wanted.is_empty() {
        return Ok(vec![]);
    }
    tokio::task::spawn_blocking(move || {
        wanted
            .into_iter()
            .map(|(sku, valid_months)| {
                let (code, pin) = (new_code(), new_pin());
                Ok(Prepared {
                    sku,
                    valid_months,
                    id: kernel::id::new_id("gc"),
                    code_hash: code_hash(&code),
                    pin_hash: crate::secrets::hash(&pin)?,
                    code,
                    pin,
                })
            })
            .collect()
    })
    .await
    .map_err(|e| Error::internal(format!("making gift card codes: {e}")))?
}

/// Opens the prepared cards on the orders that sold them (inside the checkout's command).
pub async fn open_sold(
    conn: &mut Conn,
    placed: &[Order],
    prepared: &[Prepared],
    actor: &str,
    now: Timestamp,
) -> Result<Vec<IssuedCard>, Error> {
    let mut issued = Vec::with_capacity(prepared.len());
    for card in prepared {
        let Some((order, line)) = placed
            .iter()
            .find_map(|o| o.lines.iter().find(|l| l.sku == card.sku).map(|l| (o, l)))
        else {
            return Err(Error::internal(format!(
                "no order sold gift card {}",
                card.sku
            )));
        };
        let expires_at =
            (card.valid_months > 0).then(|| loyalty::programme::add_months(now, card.valid_months));
        let account = NewAccount {
            id: card.id.clone(),
            kind: Kind::GiftCard,
            customer_id: None,
            currency: order.currency,
            amount_minor: line.unit_price_minor,
            code_hash: Some(card.code_hash.clone()),
            code_hint: Some(card.code[card.code.len() - 4..].to_owned()),
            pin_hash: Some(card.pin_hash.clone()),
            expires_at,
            return_id: None,
            order_id: Some(order.id.clone()),
            reason: None,
            at: now,
        };
        store::stored_value::open(conn, &account, actor).await?;
        issued.push(IssuedCard {
            id: card.id.clone(),
            order_id: order.id.clone(),
            sku: card.sku.clone(),
            code: card.code.clone(),
            pin: card.pin.clone(),
            amount_minor: line.unit_price_minor,
            currency: order.currency,
            expires_at,
        });
    }
    Ok(issued)
}

/// What an order's change does to the cards it sold: a cancelled, no-show or expired order
/// voids them (what they still hold); cancelling is refused once one of them was spent.
pub async fn settle_order(conn: &mut Conn, order: &Order, actor: &str) -> Result<(), Error> {
    if !matches!(
        order.state,
        OrderState::Cancelled | OrderState::NoShow | OrderState::Expired
    ) {
        return Ok(());
    }
    let now = crate::clock::now();
    let cards = store::stored_value::of_order(conn, &order.id).await?;
    // Cancelling refunds the whole price: not once a card it sold has paid for something.
    if order.state == OrderState::Cancelled
        && let Some(spent) = cards.iter().find(|c| c.balance_minor < c.amount_minor)
    {
        return Err(Error::new(
            ErrorCode::Conflict,
            "a gift card this order sold has been spent: the order cannot be cancelled",
        )
        .with("gift_card_id", spent.id.clone()));
    }
    for card in cards {
        store::stored_value::close(conn, &card.id, "void", now, actor).await?;
    }
    Ok(())
}

/// The active card with this code and PIN. A wrong PIN counts toward [`PIN_TRIES`]; a blocked
/// card answers as blocked whatever PIN is tried. `field` names the input in errors.
pub async fn present(db: &Db, field: &str, code: &str, pin: &str) -> Result<Account, Error> {
    let hash = code_hash(code);
    let card = store::stored_value::by_code(&mut db.read().await?, &hash)
        .await?
        .filter(|a| a.kind == Kind::GiftCard)
        .ok_or_else(|| {
            Error::new(ErrorCode::NotFound, "no gift card has this code").with("field", field)
        })?;
    if card.pin_failures >= PIN_TRIES {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!(
                "the gift card is blocked after {PIN_TRIES} wrong PINs; service can unblock it"
            ),
        )
        .with("gift_card_id", card.id.clone()));
    }
    let (pin, hash) = (pin.to_owned(), card.pin_hash.clone().unwrap_or_default());
    let right = crate::secrets::matches_off_thread(pin, hash).await?;
    let id = card.id.clone();
    if !right || card.pin_failures > 0 {
        db.write(move |c| {
            Box::pin(async move { store::stored_value::note_pin(c, &id, !right).await })
        })
        .await?;
    }
    if !right {
        return Err(
            Error::new(ErrorCode::Forbidden, "the PIN does not match the gift card")
                .with("field", field)
                .with("tries_left", PIN_TRIES - card.pin_failures - 1),
        );
    }
    Ok(card)
}

/// A card's balance on its code and PIN, for any channel (a web page, a kiosk, the till).
pub async fn look_up(db: &Db, code: &str, pin: &str) -> Result<(Account, Vec<Entry>), Error> {
    let card = present(db, "code", code, pin).await?;
    let entries = store::stored_value::entries(&mut db.read().await?, &card.id).await?;
    Ok((card, entries))
}

/// An account and its ledger, by id: staff, or a key that may see the customer it belongs to
/// (a gift card by id is for staff only; its holder looks it up by code and PIN).
pub async fn account(db: &Db, p: &Principal, id: &str) -> Result<(Account, Vec<Entry>), Error> {
    let mut conn = db.read().await?;
    let account = store::stored_value::find(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("stored value", id))?;
    if !p.is_staff() {
        match &account.customer_id {
            Some(customer) if account.kind == Kind::Credit => {
                crate::customers::reach(&mut conn, p, customer).await?;
            }
            _ => return Err(Error::not_found("stored value", id)),
        }
    }
    let entries = store::stored_value::entries(&mut conn, id).await?;
    Ok((account, entries))
}

/// A gift card by id, with its ledger (service and admin; its holder uses [`look_up`]).
pub async fn gift_card(db: &Db, p: &Principal, id: &str) -> Result<(Account, Vec<Entry>), Error> {
    p.require_staff()?;
    let (card, entries) = account(db, p, id).await?;
    if card.kind != Kind::GiftCard {
        return Err(Error::not_found("gift card", id));
    }
    Ok((card, entries))
}

/// A customer's credits (any key that may see the customer).
pub async fn of_customer(db: &Db, p: &Principal, customer: &str) -> Result<Vec<Account>, Error> {
    let profile = crate::customers::reach(&mut db.read().await?, p, customer).await?;
    store::stored_value::of_customer(db, &profile.id).await
}

/// Store credit issued by hand.
#[derive(Debug, Clone)]
pub struct NewCredit {
    pub amount_minor: i64,
    pub currency: Currency,
    pub reason: String,
    /// Months it stays valid; never expires when absent.
    pub valid_months: Option<i64>,
}

/// Issues store credit to a customer (service or admin), with its reason, in one command.
pub async fn issue_credit(
    db: &Db,
    p: &Principal,
    customer: &str,
    credit: NewCredit,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Account) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    p.require_staff()?;
    let reason = kernel::text::bounded("reason", &credit.reason, 3, 200)?;
    if !(1..=10_000_000).contains(&credit.amount_minor) {
        return Err(Error::validation(
            "amount_minor",
            "between 1 and 10 000 000 minor units",
        ));
    }
    if credit.valid_months.is_some_and(|m| !(1..=120).contains(&m)) {
        return Err(Error::validation(
            "valid_months",
            "between 1 and 120 months",
        ));
    }
    let profile = crate::customers::reach(&mut db.read().await?, p, customer).await?;
    let (actor, now) = (p.key_id.clone(), crate::clock::now());
    let account = NewAccount {
        id: kernel::id::new_id("crd"),
        kind: Kind::Credit,
        customer_id: Some(profile.id),
        currency: credit.currency,
        amount_minor: credit.amount_minor,
        code_hash: None,
        code_hint: None,
        pin_hash: None,
        expires_at: credit
            .valid_months
            .map(|m| loyalty::programme::add_months(now, m)),
        return_id: None,
        order_id: None,
        reason: Some(reason),
        at: now,
    };
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                store::stored_value::open(c, &account, &actor).await?;
                store::stored_value::find(c, &account.id)
                    .await?
                    .ok_or_else(|| Error::internal("a credit just issued is missing"))
            })
        },
        render,
    )
    .await
}

/// Lets a card blocked by wrong PINs pay again (service or admin).
pub async fn unblock(db: &Db, p: &Principal, id: &str) -> Result<Account, Error> {
    p.require_staff()?;
    let id = id.to_owned();
    db.write(move |c| {
        Box::pin(async move {
            store::stored_value::find(c, &id)
                .await?
                .filter(|a| a.kind == Kind::GiftCard)
                .ok_or_else(|| Error::not_found("gift card", &id))?;
            store::stored_value::note_pin(c, &id, false).await?;
            store::stored_value::find(c, &id)
                .await?
                .ok_or_else(|| Error::not_found("gift card", &id))
        })
    })
    .await
}

/// Empties up to `limit` accounts past their expiry date, one command; answers how many.
pub async fn expire_due(db: &Db, limit: i64) -> Result<usize, Error> {
    let now = crate::clock::now();
    db.write(move |c| {
        Box::pin(async move {
            let due = store::stored_value::due_to_expire(c, now, limit).await?;
            for id in &due {
                store::stored_value::close(c, id, "expire", now, "system").await?;
            }
            Ok(due.len())
        })
    })
    .await
}
