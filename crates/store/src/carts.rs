//! Carts in SQL: one active cart per customer (a unique partial index), anonymous carts known
//! by their id, lines that may hold stock, the sign-in merge and the kiosk-to-phone handoff.
//!
//! A cart line's hold (purpose `cart`) is created and ended through [`crate::stock`], in the
//! same command as the line change, so a line never points to a hold that was not made.
//! Cart changes emit no outbox event: a cart is working state; the order it becomes is
//! the business fact.

use inventory::{HoldOwner, HoldPurpose};
use kernel::{Currency, Error, ErrorCode, Timestamp};
use orders::cart::{self, Line};
pub use orders::cart::{Cart, CartLine, CartStatus};

use crate::sql::Conn;
use crate::stock::{self, HoldAction, NewHold};
use crate::{Db, params, rows};

/// A cart to start.
#[derive(Debug, Clone)]
pub struct NewCart {
    pub customer_id: Option<String>,
    pub channel: String,
    pub currency: Currency,
    pub lines: Vec<Line>,
}

/// Stock a line should hold: where, and for which channel.
#[derive(Debug, Clone)]
pub struct HoldAt {
    pub location: String,
    pub channel: Option<String>,
    pub checked_channel_safety: Option<i64>,
    pub ttl_s: i64,
}

/// A new cart id, which is also the anonymous cart's token: a UUIDv7 carries 74 random
/// bits (not guessable) after its timestamp, and sorting by creation keeps new carts on
/// the B-tree's last pages instead of dirtying a random page per cart.
fn new_cart_id() -> String {
    kernel::id::new_id("crt")
}

/// Starts a cart. A customer who already has an active cart gets that one, with these lines
/// merged in by the sign-in rule (`orders::cart::merge`): one cart per customer, whatever
/// the channel.
pub async fn create_cart(conn: &mut Conn, new: &NewCart, now: Timestamp) -> Result<Cart, Error> {
    cart::validate_lines(&new.lines)?;
    if let Some(customer) = &new.customer_id {
        let customer = crate::profiles::active_id(conn, customer).await?;
        if let Some(existing) = active_cart_of(conn, &customer).await? {
            let merged = cart::merge(&existing.plain_lines(), &new.lines);
            write_lines(conn, &existing, &merged, now).await?;
            return get_in(conn, &existing.id).await;
        }
    }
    let id = new_cart_id();
    conn.execute(
        "INSERT INTO carts (id, customer_id, channel, currency, status, created_at, updated_at, version)
         VALUES ($1, $2, $3, $4, 'active', $5, $5, 1)",
        params![&id, &new.customer_id, &new.channel, new.currency.code(), now.to_text()],
    )
    .await
    .map_err(|e| reference_error(e, &new.channel))?;
    insert_lines(conn, &id, &new.lines, 0).await?;
    // Built from what was written rather than read back: the writer is the bottleneck.
    Ok(Cart {
        id,
        customer_id: new.customer_id.clone(),
        channel: new.channel.clone(),
        currency: new.currency,
        status: CartStatus::Active,
        merged_into: None,
        order_id: None,
        handoff_code: None,
        handoff_expires_at: None,
        lines: new
            .lines
            .iter()
            .map(|l| CartLine {
                sku: l.sku.clone(),
                quantity: l.quantity,
                hold_id: None,
                hold_location: None,
            })
            .collect(),
        created_at: now,
        updated_at: now,
        version: 1,
    })
}

fn reference_error(e: Error, channel: &str) -> Error {
    if e.code == ErrorCode::UnknownReference {
        Error::new(
            ErrorCode::UnknownReference,
            format!("a SKU, the customer or channel `{channel}` does not exist"),
        )
    } else {
        e
    }
}

/// Inserts lines with one statement (positions from `first_position`).
async fn insert_lines(
    conn: &mut Conn,
    cart_id: &str,
    lines: &[Line],
    first_position: i64,
) -> Result<(), Error> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut sql = String::from("INSERT INTO cart_lines (cart_id, sku, quantity, position) VALUES ");
    let mut values = Vec::with_capacity(lines.len() * 4);
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "({})",
            crate::sql::placeholders(values.len() + 1, 4)
        ));
        values.extend_from_slice(params![
            cart_id,
            &line.sku,
            line.quantity,
            first_position + i as i64
        ]);
    }
    conn.execute(&sql, &values).await.map_err(|e| {
        if e.code == ErrorCode::UnknownReference {
            Error::new(
                ErrorCode::UnknownReference,
                "a line names a SKU that does not exist",
            )
            .with("field", "lines")
        } else {
            e
        }
    })?;
    Ok(())
}

/// Replaces a cart's lines by `lines`: quantities change, lines leave (their holds are
/// released), new lines come; a line whose quantity changed loses its hold.
async fn write_lines(
    conn: &mut Conn,
    cart: &Cart,
    lines: &[Line],
    now: Timestamp,
) -> Result<(), Error> {
    for old in &cart.lines {
        let kept = lines.iter().find(|l| l.sku == old.sku);
        if kept.is_some_and(|l| l.quantity == old.quantity) {
            continue;
        }
        release_line_hold(conn, old).await?;
        match kept {
            Some(l) => {
                conn.execute(
                    "UPDATE cart_lines SET quantity = $3, hold_id = NULL, hold_location = NULL WHERE cart_id = $1 AND sku = $2",
                    params![&cart.id, &old.sku, l.quantity],
                )
                .await?;
            }
            None => {
                conn.execute(
                    "DELETE FROM cart_lines WHERE cart_id = $1 AND sku = $2",
                    params![&cart.id, &old.sku],
                )
                .await?;
            }
        }
    }
    let added: Vec<Line> = lines
        .iter()
        .filter(|l| !cart.lines.iter().any(|o| o.sku == l.sku))
        .cloned()
        .collect();
    insert_lines(conn, &cart.id, &added, cart.lines.len() as i64 + 1000).await?;
    touch(conn, &cart.id, cart.version, now).await
}

/// Bumps the cart's version if it is still the one read; otherwise the cart changed
/// meanwhile (on another node) and the command is refused as retryable.
async fn touch(conn: &mut Conn, id: &str, version: i64, now: Timestamp) -> Result<(), Error> {
    let n = conn
        .execute(
            "UPDATE carts SET version = version + 1, updated_at = $3 WHERE id = $1 AND version = $2 AND status = 'active'",
            params![id, version, now.to_text()],
        )
        .await?;
    if n == 1 {
        Ok(())
    } else {
        Err(
            Error::new(ErrorCode::Conflict, "the cart changed meanwhile; retry")
                .with("cart_id", id),
        )
    }
}

/// Releases a line's hold if it is still pending (a cart hold may have expired on its own).
pub async fn release_line_hold(conn: &mut Conn, line: &CartLine) -> Result<(), Error> {
    let Some(hold_id) = &line.hold_id else {
        return Ok(());
    };
    release_if_pending(conn, hold_id, "system").await
}

/// Releases a hold unless it already ended.
pub async fn release_if_pending(conn: &mut Conn, hold_id: &str, actor: &str) -> Result<(), Error> {
    match stock::find_hold(conn, hold_id).await? {
        Some(h) if h.status == inventory::HoldStatus::Pending => {
            stock::end_hold(conn, hold_id, HoldAction::Release, actor).await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Sets a line's quantity (0 removes it), optionally holding its stock at a location.
pub async fn set_line(
    conn: &mut Conn,
    cart_id: &str,
    sku: &str,
    quantity: i64,
    hold: Option<&HoldAt>,
    actor: &str,
    now: Timestamp,
) -> Result<Cart, Error> {
    let cart = get_in(conn, cart_id).await?;
    cart.require_active()?;
    let mut lines = cart.plain_lines();
    lines.retain(|l| l.sku != sku);
    if quantity > 0 {
        cart::validate_quantity("quantity", quantity)?;
        lines.push(Line {
            sku: sku.to_owned(),
            quantity,
        });
        cart::validate_lines(&lines)?;
    }
    // `write_lines` drops the hold of a line whose quantity changes or that leaves; a line
    // held anew at the same quantity drops its old hold here.
    if hold.is_some()
        && let Some(old) = cart
            .lines
            .iter()
            .find(|l| l.sku == sku && l.quantity == quantity)
    {
        release_line_hold(conn, old).await?;
    }
    write_lines(conn, &cart, &lines, now).await?;
    if let (Some(at), true) = (hold, quantity > 0) {
        let h = stock::create_hold(
            conn,
            &NewHold {
                sku: sku.to_owned(),
                location: at.location.clone(),
                quantity,
                purpose: HoldPurpose::Cart,
                owner_ref: cart_id.to_owned(),
                owner: HoldOwner::Cart,
                channel: at.channel.clone(),
                checked_channel_safety: at.checked_channel_safety,
                ttl_s: Some(at.ttl_s),
            },
            actor,
        )
        .await?;
        conn.execute(
            "UPDATE cart_lines SET hold_id = $3, hold_location = $4 WHERE cart_id = $1 AND sku = $2",
            params![cart_id, sku, &h.id, &h.location],
        )
        .await?;
    }
    get_in(conn, cart_id).await
}

/// Signs a cart in: it becomes the customer's cart, or joins the customer's active cart by
/// the merge rule (it is then `merged`, pointing to that cart). Holds follow their lines; a
/// SKU in both carts keeps the customer cart's hold and the other is released.
pub async fn attach_customer(
    conn: &mut Conn,
    cart_id: &str,
    customer_id: &str,
    now: Timestamp,
) -> Result<Cart, Error> {
    let cart = get_in(conn, cart_id).await?;
    cart.require_active()?;
    let customer = crate::profiles::active_id(conn, customer_id).await?;
    if cart.customer_id.as_deref() == Some(customer.as_str()) {
        return Ok(cart);
    }
    if cart.customer_id.is_some() {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the cart belongs to another customer",
        ));
    }
    match active_cart_of(conn, &customer).await? {
        None => {
            touch(conn, cart_id, cart.version, now).await?;
            conn.execute(
                "UPDATE carts SET customer_id = $2 WHERE id = $1",
                params![cart_id, &customer],
            )
            .await?;
            get_in(conn, cart_id).await
        }
        Some(target) => merge_into(conn, &cart, &target, now).await,
    }
}

/// Moves `from`'s lines into `target` by the merge rule and closes `from` as merged.
pub(crate) async fn merge_into(
    conn: &mut Conn,
    from: &Cart,
    target: &Cart,
    now: Timestamp,
) -> Result<Cart, Error> {
    let merged = cart::merge(&target.plain_lines(), &from.plain_lines());
    write_lines(conn, target, &merged, now).await?;
    for line in &from.lines {
        // A hold covers its line's quantity. The merged line keeps the customer cart's hold
        // when that line kept its quantity; otherwise this cart's hold, when it covers the
        // merged quantity; any other hold is released.
        let merged_quantity = merged
            .iter()
            .find(|m| m.sku == line.sku)
            .map(|m| m.quantity);
        let target_keeps_hold = target.lines.iter().any(|t| {
            t.sku == line.sku && t.hold_id.is_some() && Some(t.quantity) == merged_quantity
        });
        let takes_hold = !target_keeps_hold && merged_quantity == Some(line.quantity);
        if takes_hold && line.hold_id.is_some() {
            conn.execute(
                "UPDATE cart_lines SET hold_id = $3, hold_location = $4 WHERE cart_id = $1 AND sku = $2",
                params![&target.id, &line.sku, &line.hold_id, &line.hold_location],
            )
            .await?;
            conn.execute(
                "UPDATE holds SET owner_ref = $2 WHERE id = $1",
                params![&line.hold_id, &target.id],
            )
            .await?;
        } else {
            release_line_hold(conn, line).await?;
        }
    }
    let closed = conn
        .execute(
            // The merged cart was the target's customer's too (it signed in, or its profile
            // merged): their channels know them by it.
            "UPDATE carts SET status = 'merged', merged_into = $2, updated_at = $3, version = version + 1,
                customer_id = COALESCE($5, customer_id)
             WHERE id = $1 AND version = $4 AND status = 'active'",
            params![&from.id, &target.id, now.to_text(), from.version, &target.customer_id],
        )
        .await?;
    if closed != 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the cart changed meanwhile; retry",
        ));
    }
    get_in(conn, &target.id).await
}

/// Gives the cart a short code a phone can claim it with (kiosk or POS → customer's phone).
pub async fn start_handoff(conn: &mut Conn, cart_id: &str, now: Timestamp) -> Result<Cart, Error> {
    let cart = get_in(conn, cart_id).await?;
    cart.require_active()?;
    let expires = Timestamp::from_unix_ms(now.unix_ms() + cart::HANDOFF_TTL_S * 1000);
    // A clash with another live code is astronomically rare but possible: try a few.
    for _ in 0..5 {
        let secret = kernel::id::new_secret_hex();
        let code = cart::handoff_code(secret.as_bytes());
        conn.execute(
            "UPDATE carts SET handoff_code = NULL, handoff_expires_at = NULL WHERE handoff_code = $1 AND handoff_expires_at < $2",
            params![&code, now.to_text()],
        )
        .await?;
        let taken = conn
            .query_opt(
                "SELECT id FROM carts WHERE handoff_code = $1",
                params![&code],
            )
            .await?;
        if taken.is_none() {
            touch(conn, cart_id, cart.version, now).await?;
            conn.execute(
                "UPDATE carts SET handoff_code = $2, handoff_expires_at = $3 WHERE id = $1",
                params![cart_id, &code, expires.to_text()],
            )
            .await?;
            return get_in(conn, cart_id).await;
        }
    }
    Err(Error::new(
        ErrorCode::Conflict,
        "no free handoff code; retry",
    ))
}

/// Claims a handed-off cart by its code (once); signs it in when a customer is given.
pub async fn claim_handoff(
    conn: &mut Conn,
    code: &str,
    customer_id: Option<&str>,
    now: Timestamp,
) -> Result<Cart, Error> {
    let code = cart::normalise_code(code);
    let found = conn
        .query_opt(
            "SELECT id FROM carts WHERE handoff_code = $1 AND handoff_expires_at >= $2 AND status = 'active'",
            params![&code, now.to_text()],
        )
        .await?
        .ok_or_else(|| {
            Error::new(ErrorCode::NotFound, "no cart waits with this code (it may have expired)")
        })?;
    let id = found.text("id")?;
    conn.execute(
        "UPDATE carts SET handoff_code = NULL, handoff_expires_at = NULL WHERE id = $1",
        params![&id],
    )
    .await?;
    match customer_id {
        Some(c) => attach_customer(conn, &id, c, now).await,
        None => get_in(conn, &id).await,
    }
}

/// The customer's active cart, if any.
pub async fn active_cart_of(conn: &mut Conn, customer_id: &str) -> Result<Option<Cart>, Error> {
    let row = conn
        .query_opt(
            "SELECT id FROM carts WHERE customer_id = $1 AND status = 'active'",
            params![customer_id],
        )
        .await?;
    match row {
        Some(r) => find_cart(conn, &r.text("id")?).await,
        None => Ok(None),
    }
}

pub async fn find_cart(conn: &mut Conn, id: &str) -> Result<Option<Cart>, Error> {
    let Some(row) = conn
        .query_opt("SELECT * FROM carts WHERE id = $1", params![id])
        .await?
    else {
        return Ok(None);
    };
    let lines = conn
        .query(
            "SELECT sku, quantity, hold_id, hold_location FROM cart_lines WHERE cart_id = $1 ORDER BY position, sku",
            params![id],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(CartLine {
                sku: r.text("sku")?,
                quantity: r.int("quantity")?,
                hold_id: r.opt_text("hold_id")?,
                hold_location: r.opt_text("hold_location")?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Some(Cart {
        id: row.text("id")?,
        customer_id: row.opt_text("customer_id")?,
        channel: row.text("channel")?,
        currency: rows::currency(&row, "currency")?,
        status: rows::parsed(&row, "status", CartStatus::parse)?,
        merged_into: row.opt_text("merged_into")?,
        order_id: row.opt_text("order_id")?,
        handoff_code: row.opt_text("handoff_code")?,
        handoff_expires_at: rows::opt_timestamp(&row, "handoff_expires_at")?,
        lines,
        created_at: rows::timestamp(&row, "created_at")?,
        updated_at: rows::timestamp(&row, "updated_at")?,
        version: row.int("version")?,
    }))
}

async fn get_in(conn: &mut Conn, id: &str) -> Result<Cart, Error> {
    find_cart(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("cart", id))
}

pub async fn get_cart(db: &Db, id: &str) -> Result<Cart, Error> {
    get_in(&mut db.read().await?, id).await
}

/// Closes a cart as ordered, if it is still the version the checkout read.
pub(crate) async fn close_as_ordered(
    conn: &mut Conn,
    id: &str,
    version: i64,
    order_id: &str,
    now: Timestamp,
) -> Result<(), Error> {
    let n = conn
        .execute(
            "UPDATE carts SET status = 'ordered', order_id = $3, updated_at = $4, version = version + 1
             WHERE id = $1 AND version = $2 AND status = 'active'",
            params![id, version, order_id, now.to_text()],
        )
        .await?;
    if n == 1 {
        return Ok(());
    }
    let cart = get_in(conn, id).await?;
    cart.require_active()?;
    Err(Error::new(
        ErrorCode::Conflict,
        "the cart changed during checkout; review it and retry",
    ))
}

/// On a profile merge: the absorbed profile's carts move; if both have an active cart, the
/// absorbed one joins the survivor's by the merge rule.
pub(crate) async fn follow_merge(
    conn: &mut Conn,
    survivor: &str,
    absorbed: &str,
    now: Timestamp,
) -> Result<(), Error> {
    if let Some(from) = active_cart_of(conn, absorbed).await?
        && let Some(target) = active_cart_of(conn, survivor).await?
    {
        merge_into(conn, &from, &target, now).await?;
    }
    conn.execute(
        "UPDATE carts SET customer_id = $1 WHERE customer_id = $2",
        params![survivor, absorbed],
    )
    .await?;
    Ok(())
}
