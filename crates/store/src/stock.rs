//! Stock levels, the movement ledger and holds in SQL.
//!
//! Every change is a conditional write on the level row — `held + q` only where ATP covers
//! `q`, `on_hand + d` only where it stays ≥ held — so two writers (two nodes on PostgreSQL)
//! can never oversell, whatever they read before. The movement or the hold change, the level
//! and the outbox event are written in the same transaction.

use inventory::hold::{self, Hold, HoldEnd, HoldOwner, HoldPurpose, HoldStatus};
use inventory::ledger::{self, Level, LevelSnapshot, MovementKind};
use inventory::sourcing::Site;
use kernel::{Error, ErrorCode, Page, PageRequest, Timestamp};
use outbox::Event;
use outbox::payloads::{HoldChanged, SafetySet, StockMoved};
use serde::Serialize;

use crate::rows;
use crate::sql::{Conn, Row, corrupt};
use crate::{Db, events, params};

/// A movement to record.
#[derive(Debug, Clone)]
pub struct NewMovement {
    pub sku: String,
    pub location: String,
    pub kind: MovementKind,
    /// See `inventory::ledger::delta` for what the quantity means per kind.
    pub quantity: i64,
    pub reason: String,
    pub reference: Option<String>,
    /// The client's id for this movement: recording it twice records it once.
    pub client_key: Option<String>,
}

pub use inventory::Movement;

/// A level with what it belongs to, for lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stock {
    pub sku: String,
    pub location: String,
    pub level: Level,
    /// Units on their way here by transfer: shown, never promised.
    pub in_transit: i64,
}

/// Level columns plus the units in transit to the level's location.
const STOCK_COLUMNS: &str = "l.sku, l.location, l.on_hand, l.held, l.safety,
    CAST(COALESCE((SELECT SUM(t.quantity) FROM transfers t
                   WHERE t.sku = l.sku AND t.to_location = l.location AND t.status = 'in_transit'), 0) AS BIGINT) AS in_transit";

fn level_from_row(row: &Row) -> Result<Level, Error> {
    Ok(Level {
        on_hand: row.int("on_hand")?,
        held: row.int("held")?,
        safety: row.int("safety")?,
    })
}

fn stock_from_row(row: &Row) -> Result<Stock, Error> {
    Ok(Stock {
        sku: row.text("sku")?,
        location: row.text("location")?,
        level: level_from_row(row)?,
        in_transit: row.int("in_transit")?,
    })
}

fn movement_from_row(row: &Row) -> Result<Movement, Error> {
    let kind = row.text("kind")?;
    Ok(Movement {
        seq: row.int("seq")?,
        id: row.text("id")?,
        sku: row.text("sku")?,
        location: row.text("location")?,
        kind: MovementKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        delta: row.int("delta")?,
        reason: row.text("reason")?,
        reference: row.opt_text("reference")?,
        actor: row.text("actor")?,
        at: rows::timestamp(row, "at")?,
    })
}

fn hold_from_row(row: &Row) -> Result<Hold, Error> {
    let purpose = row.text("purpose")?;
    let status = row.text("status")?;
    Ok(Hold {
        id: row.text("id")?,
        sku: row.text("sku")?,
        location: row.text("location")?,
        quantity: row.int("quantity")?,
        purpose: HoldPurpose::parse(&purpose).ok_or_else(|| corrupt("purpose", &purpose))?,
        owner_ref: row.text("owner_ref")?,
        owner: {
            let owner = row.text("owner_kind")?;
            HoldOwner::parse(&owner).ok_or_else(|| corrupt("owner_kind", &owner))?
        },
        created_by: row.opt_text("created_by")?,
        channel: row.opt_text("channel")?,
        status: HoldStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        committed_quantity: row.int("committed_quantity")?,
        expires_at: rows::timestamp(row, "expires_at")?,
        created_at: rows::timestamp(row, "created_at")?,
        ended_at: rows::opt_timestamp(row, "ended_at")?,
    })
}

pub async fn find_level(
    conn: &mut Conn,
    sku: &str,
    location: &str,
) -> Result<Option<Level>, Error> {
    conn.query_opt(
        "SELECT on_hand, held, safety FROM stock_levels WHERE sku = $1 AND location = $2",
        params![sku, location],
    )
    .await?
    .as_ref()
    .map(level_from_row)
    .transpose()
}

/// Creates the level row at zero if it does not exist; the variant and location must.
async fn ensure_level(conn: &mut Conn, sku: &str, location: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO stock_levels (sku, location, on_hand, held, safety, updated_at) VALUES ($1, $2, 0, 0, 0, $3)
         ON CONFLICT (sku, location) DO NOTHING",
        params![sku, location, Timestamp::now().to_text()],
    )
    .await
    .map_err(|e| {
        if e.code == ErrorCode::UnknownReference {
            Error::new(ErrorCode::UnknownReference, format!("variant `{sku}` or location `{location}` does not exist"))
                .with("sku", sku)
                .with("location", location)
        } else {
            e
        }
    })?;
    Ok(())
}

/// Moves `on_hand` by `delta` unless that would leave less than is held. Goods coming in are
/// always taken, even into a store an offline till's sales left short.
async fn move_on_hand(conn: &mut Conn, sku: &str, location: &str, delta: i64) -> Result<(), Error> {
    let moved = conn
        .execute(
            "UPDATE stock_levels SET on_hand = on_hand + $3, updated_at = $4
             WHERE sku = $1 AND location = $2 AND (on_hand + $3 >= held OR $3 > 0)",
            params![sku, location, delta, Timestamp::now().to_text()],
        )
        .await?;
    if moved == 1 {
        return Ok(());
    }
    let level = find_level(conn, sku, location).await?.unwrap_or_default();
    Err(ledger::apply(level, delta)
        .err()
        .unwrap_or_else(|| Error::new(ErrorCode::Conflict, "the stock changed meanwhile; retry")))
}

async fn insert_movement(
    conn: &mut Conn,
    m: &Movement,
    client_key: Option<&str>,
) -> Result<i64, Error> {
    conn.query_one(
        "INSERT INTO stock_movements (id, sku, location, kind, delta, reason, reference, actor, client_key, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING seq",
        params![&m.id, &m.sku, &m.location, m.kind.as_str(), m.delta, &m.reason, &m.reference, &m.actor, client_key, m.at.to_text()],
    )
    .await?
    .int("seq")
}

/// The movement recorded with this client key, if any.
async fn movement_by_client_key(conn: &mut Conn, key: &str) -> Result<Option<Movement>, Error> {
    conn.query_opt(
        "SELECT * FROM stock_movements WHERE client_key = $1",
        params![key],
    )
    .await?
    .as_ref()
    .map(movement_from_row)
    .transpose()
}

/// Records a movement and moves the level with it. A movement whose `client_key` was already
/// recorded is not recorded again: the first one is returned.
pub async fn record_movement(
    conn: &mut Conn,
    new: &NewMovement,
    actor: &str,
) -> Result<(Movement, Level), Error> {
    record_movement_once(conn, new, actor)
        .await
        .map(|(movement, level, _)| (movement, level))
}

/// [`record_movement`], also saying whether the movement was recorded before (its client key
/// was known: nothing was written now).
pub async fn record_movement_once(
    conn: &mut Conn,
    new: &NewMovement,
    actor: &str,
) -> Result<(Movement, Level, bool), Error> {
    if let Some(key) = &new.client_key
        && let Some(first) = movement_by_client_key(conn, key).await?
    {
        let level = find_level(conn, &first.sku, &first.location)
            .await?
            .unwrap_or_default();
        return Ok((first, level, true));
    }
    if new.reason.trim().is_empty() || new.reason.chars().count() > 200 {
        return Err(Error::validation(
            "reason",
            "a movement needs a reason of 1 to 200 characters",
        ));
    }
    ensure_level(conn, &new.sku, &new.location).await?;
    let before = find_level(conn, &new.sku, &new.location)
        .await?
        .unwrap_or_default();
    let delta = ledger::delta(new.kind, new.quantity, before.on_hand)?;
    if new.kind == MovementKind::Count {
        // A count is relative to what was read: refuse it if the level moved since.
        let counted = conn
            .execute(
                "UPDATE stock_levels SET on_hand = $3, updated_at = $4 WHERE sku = $1 AND location = $2 AND on_hand = $5 AND $3 >= held",
                params![&new.sku, &new.location, new.quantity, Timestamp::now().to_text(), before.on_hand],
            )
            .await?;
        if counted != 1 {
            ledger::apply(before, delta)?;
            return Err(Error::new(
                ErrorCode::Conflict,
                "the stock changed while counting; count again",
            ));
        }
    } else {
        move_on_hand(conn, &new.sku, &new.location, delta).await?;
    }
    let mut movement = Movement {
        seq: 0,
        id: kernel::id::new_id("mov"),
        sku: new.sku.clone(),
        location: new.location.clone(),
        kind: new.kind,
        delta,
        reason: new.reason.trim().to_owned(),
        reference: new.reference.clone(),
        actor: actor.to_owned(),
        at: Timestamp::now(),
    };
    movement.seq = insert_movement(conn, &movement, new.client_key.as_deref()).await?;
    // The conditional write above succeeded, so the level is the one read plus the delta.
    let level = Level {
        on_hand: before.on_hand + delta,
        ..before
    };
    // Stock events carry the level after the change (`data.availability`): the live
    // availability feeds follow it.
    let moved = StockMoved {
        availability: LevelSnapshot::new(&movement.sku, &movement.location, level),
        movement,
    };
    let subject = &moved.movement.sku;
    events::emit(conn, Event::StockMoved(&moved), subject, actor).await?;
    Ok((moved.movement, level, false))
}

/// Sets the safety stock kept out of ATP at a location.
pub async fn set_safety(
    conn: &mut Conn,
    sku: &str,
    location: &str,
    safety: i64,
    actor: &str,
) -> Result<Level, Error> {
    if !(0..=1_000_000_000).contains(&safety) {
        return Err(Error::validation("quantity", "safety stock is 0 or more"));
    }
    ensure_level(conn, sku, location).await?;
    conn.execute(
        "UPDATE stock_levels SET safety = $3, updated_at = $4 WHERE sku = $1 AND location = $2",
        params![sku, location, safety, Timestamp::now().to_text()],
    )
    .await?;
    let level = find_level(conn, sku, location).await?.unwrap_or_default();
    let set = SafetySet {
        sku: sku.to_owned(),
        location: location.to_owned(),
        safety,
        availability: LevelSnapshot::new(sku, location, level),
    };
    events::emit(conn, Event::StockSafetySet(&set), sku, actor).await?;
    Ok(level)
}

/// A hold to create.
#[derive(Debug, Clone)]
pub struct NewHold {
    pub sku: String,
    pub location: String,
    pub quantity: i64,
    pub purpose: HoldPurpose,
    pub owner_ref: String,
    /// A cart's or an order's hold ends only through them; an API hold by its maker.
    pub owner: HoldOwner,
    /// The channel promising the stock: its sourcing policy must allow the location, and its
    /// channel safety stock is kept back. `None` (staff, back office) skips both.
    pub channel: Option<String>,
    /// The channel's safety stock at the location when the caller has already checked the
    /// channel's policy (the API does, from its reference cache, to keep the check off the
    /// single writer); `None` checks it inside the command.
    pub checked_channel_safety: Option<i64>,
    pub ttl_s: Option<i64>,
}

/// Checks that `channel` may promise from `location` for `purpose`; returns the channel's
/// safety stock there.
async fn channel_safety_for_hold(
    conn: &mut Conn,
    channel: &str,
    location: &str,
    purpose: HoldPurpose,
) -> Result<i64, Error> {
    let effective = crate::sourcing::find_policy(conn, channel)
        .await
        .map_err(|e| {
            if e.code == ErrorCode::NotFound {
                Error::unknown_reference("channel", "channel", channel)
            } else {
                e
            }
        })?;
    let place = crate::locations::find_location(conn, location)
        .await?
        .ok_or_else(|| Error::unknown_reference("location", "location", location))?;
    let site = Site {
        code: &place.code,
        kind: place.kind,
        capabilities: &place.capabilities,
        active: place.active,
    };
    effective.policy.check_hold(channel, site, purpose)
}

/// Claims stock: raises `held` only where ATP covers the quantity (a conditional write).
pub async fn create_hold(conn: &mut Conn, new: &NewHold, actor: &str) -> Result<Hold, Error> {
    let now = Timestamp::now();
    let expires_at = hold::new_hold_expiry(new.quantity, new.purpose, new.ttl_s, now)?;
    let channel_safety = match (&new.channel, new.checked_channel_safety) {
        (Some(_), Some(checked)) => checked,
        (Some(channel), None) => {
            channel_safety_for_hold(conn, channel, &new.location, new.purpose).await?
        }
        (None, _) => 0,
    };
    let claimed = conn
        .query_opt(
            "UPDATE stock_levels SET held = held + $3, updated_at = $4
             WHERE sku = $1 AND location = $2 AND on_hand - held - safety - $5 >= $3
             RETURNING on_hand, held, safety",
            params![
                &new.sku,
                &new.location,
                new.quantity,
                now.to_text(),
                channel_safety
            ],
        )
        .await?;
    let Some(after) = claimed else {
        let level = find_level(conn, &new.sku, &new.location).await?;
        if level.is_none() {
            if crate::catalog::find_variant(conn, &new.sku)
                .await?
                .is_none()
            {
                return Err(Error::unknown_reference("sku", "variant", &new.sku));
            }
            if crate::locations::find_location(conn, &new.location)
                .await?
                .is_none()
            {
                return Err(Error::unknown_reference(
                    "location",
                    "location",
                    &new.location,
                ));
            }
        }
        let available = level
            .map(|l| (l.atp() - channel_safety).max(0))
            .unwrap_or(0);
        return Err(Error::new(
            ErrorCode::InsufficientStock,
            format!("only {available} available at {}", new.location),
        )
        .with("sku", new.sku.clone())
        .with("location", new.location.clone())
        .with("available", available)
        .with("requested", new.quantity));
    };
    let after = level_from_row(&after)?;
    let h = Hold {
        id: kernel::id::new_id("hld"),
        sku: new.sku.clone(),
        location: new.location.clone(),
        quantity: new.quantity,
        purpose: new.purpose,
        owner_ref: new.owner_ref.clone(),
        owner: new.owner,
        created_by: (new.owner == HoldOwner::Api).then(|| actor.to_owned()),
        channel: new.channel.clone(),
        status: HoldStatus::Pending,
        committed_quantity: 0,
        expires_at,
        created_at: now,
        ended_at: None,
    };
    conn.execute(
        "INSERT INTO holds (id, sku, location, quantity, purpose, owner_ref, channel, status, committed_quantity, expires_at, created_at, owner_kind, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11, $12)",
        params![&h.id, &h.sku, &h.location, h.quantity, h.purpose.as_str(), &h.owner_ref, &h.channel, h.status.as_str(), h.expires_at.to_text(), now.to_text(), h.owner.as_str(), &h.created_by],
    )
    .await?;
    let created = HoldChanged {
        availability: LevelSnapshot::new(&h.sku, &h.location, after),
        hold: h,
    };
    events::emit(conn, Event::HoldCreated(&created), &created.hold.id, actor).await?;
    Ok(created.hold)
}

pub async fn find_hold(conn: &mut Conn, id: &str) -> Result<Option<Hold>, Error> {
    conn.query_opt("SELECT * FROM holds WHERE id = $1", params![id])
        .await?
        .as_ref()
        .map(hold_from_row)
        .transpose()
}

pub async fn get_hold(db: &Db, id: &str) -> Result<Hold, Error> {
    find_hold(&mut db.read().await?, id)
        .await?
        .ok_or_else(|| Error::not_found("hold", id))
}

/// What to do with a pending hold.
#[derive(Debug, Clone, Copy)]
pub enum HoldAction {
    Commit(Option<i64>),
    Release,
    /// Expire as of `at` (the sweep's clock), if the deadline has passed by then.
    Expire {
        at: Timestamp,
    },
}

/// Ends a hold once: the status change is conditional on it still being pending.
pub async fn end_hold(
    conn: &mut Conn,
    id: &str,
    action: HoldAction,
    actor: &str,
) -> Result<Hold, Error> {
    let h = find_hold(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("hold", id))?;
    end_found_hold(conn, h, action, actor).await
}

/// Ends a hold read in this command (a caller that decided on it first need not read it
/// twice); the status change is still conditional on it being pending.
pub async fn end_found_hold(
    conn: &mut Conn,
    mut h: Hold,
    action: HoldAction,
    actor: &str,
) -> Result<Hold, Error> {
    let id = h.id.clone();
    let now = Timestamp::now();
    let end: HoldEnd = match action {
        HoldAction::Commit(q) => hold::commit(&h, q, now)?,
        HoldAction::Release => hold::release(&h)?,
        HoldAction::Expire { at } => hold::expire(&h, at)
            .ok_or_else(|| Error::new(ErrorCode::Conflict, "the hold is not due to expire"))?,
    };
    let ended = conn
        .execute(
            "UPDATE holds SET status = $2, committed_quantity = $3, ended_at = $4 WHERE id = $1 AND status = 'pending'",
            params![&id, end.status.as_str(), end.sold, now.to_text()],
        )
        .await?;
    if ended != 1 {
        return Err(Error::new(ErrorCode::Conflict, "the hold ended meanwhile")
            .with("hold_id", id.as_str()));
    }
    let after = conn
        .query_one(
            "UPDATE stock_levels SET held = held - $3, on_hand = on_hand - $4, updated_at = $5 WHERE sku = $1 AND location = $2
             RETURNING on_hand, held, safety",
            params![&h.sku, &h.location, end.unhold, end.sold, now.to_text()],
        )
        .await?;
    let after = level_from_row(&after)?;
    if end.sold > 0 {
        let sale = Movement {
            seq: 0,
            id: kernel::id::new_id("mov"),
            sku: h.sku.clone(),
            location: h.location.clone(),
            kind: MovementKind::Sale,
            delta: -end.sold,
            reason: format!("{} hold committed", h.purpose.as_str()),
            reference: Some(h.id.clone()),
            actor: actor.to_owned(),
            at: now,
        };
        insert_movement(conn, &sale, None).await?;
    }
    h.status = end.status;
    h.committed_quantity = end.sold;
    h.ended_at = Some(now);
    let ended = HoldChanged {
        availability: LevelSnapshot::new(&h.sku, &h.location, after),
        hold: h,
    };
    let event = Event::hold_ended(end.status, &ended)
        .ok_or_else(|| Error::internal("a hold ended as pending"))?;
    events::emit(conn, event, &ended.hold.id, actor).await?;
    Ok(ended.hold)
}

/// Pending holds past their deadline (the sweeper expires them within a second), and the
/// oldest deadline among them: how far the hold sweeper lags.
pub async fn overdue_holds(db: &Db, now: Timestamp) -> Result<(i64, Option<Timestamp>), Error> {
    let row = db
        .read()
        .await?
        .query_one(
            "SELECT COUNT(*) AS n, MIN(expires_at) AS oldest FROM holds
              WHERE status = 'pending' AND expires_at <= $1",
            params![now.to_text()],
        )
        .await?;
    Ok((row.int("n")?, rows::opt_timestamp(&row, "oldest")?))
}

/// Expires up to `limit` pending holds whose deadline has passed; returns how many.
pub async fn expire_due(conn: &mut Conn, now: Timestamp, limit: i64) -> Result<usize, Error> {
    let due = conn
        .query("SELECT id FROM holds WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2", params![now.to_text(), limit])
        .await?;
    let mut expired = 0;
    for row in &due {
        match end_hold(
            conn,
            &row.text("id")?,
            HoldAction::Expire { at: now },
            "system",
        )
        .await
        {
            Ok(_) => expired += 1,
            // Another node ended it first; its end wrote nothing here (the status change is
            // the first, conditional write), so the sweep goes on.
            Err(e) if e.code == ErrorCode::Conflict => {}
            Err(e) => return Err(e),
        }
    }
    Ok(expired)
}

/// The SKUs a location can still promise `units` of (ATP), in SKU order.
pub async fn skus_promisable_at(
    conn: &mut Conn,
    location: &str,
    units: i64,
) -> Result<Vec<String>, Error> {
    conn.query(
        "SELECT sku FROM stock_levels WHERE location = $1 AND on_hand - held - safety >= $2 ORDER BY sku",
        params![location, units],
    )
    .await?
    .iter()
    .map(|r| r.text("sku"))
    .collect()
}

/// A SKU at `location` with units held for orders and few free (`on_hand − held`, 0 to 3),
/// and how many are free: what an offline sale could find promised meanwhile.
pub async fn held_at(conn: &mut Conn, location: &str) -> Result<Option<(String, i64)>, Error> {
    conn.query_opt(
        "SELECT sku, on_hand - held AS free FROM stock_levels
         WHERE location = $1 AND held > 0 AND on_hand - held BETWEEN 0 AND 3 ORDER BY on_hand - held, sku LIMIT 1",
        params![location],
    )
    .await?
    .map(|r| Ok((r.text("sku")?, r.int("free")?)))
    .transpose()
}

/// A variant's stock at every location that has a level for it.
pub async fn variant_stock(db: &Db, sku: &str) -> Result<Vec<Stock>, Error> {
    let sql =
        format!("SELECT {STOCK_COLUMNS} FROM stock_levels l WHERE l.sku = $1 ORDER BY l.location");
    db.read()
        .await?
        .query(&sql, params![sku])
        .await?
        .iter()
        .map(stock_from_row)
        .collect()
}

/// A location's stock, in SKU order.
pub async fn location_stock(
    db: &Db,
    location: &str,
    page: &PageRequest,
) -> Result<Page<Stock>, Error> {
    let sql = format!(
        "SELECT {STOCK_COLUMNS} FROM stock_levels l WHERE l.location = $1 AND l.sku > $2 ORDER BY l.sku LIMIT $3"
    );
    let found = db
        .read()
        .await?
        .query(
            &sql,
            params![
                location,
                page.after.clone().unwrap_or_default(),
                page.fetch_limit()
            ],
        )
        .await?;
    let stock = found
        .iter()
        .map(stock_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(stock, page, |s| s.sku.clone()))
}

/// Movements of a variant at a location, oldest first.
pub async fn movements(
    db: &Db,
    sku: &str,
    location: &str,
    page: &PageRequest,
) -> Result<Page<Movement>, Error> {
    let after = page.after_seq()?;
    let found = db
        .read()
        .await?
        .query(
            "SELECT * FROM stock_movements WHERE sku = $1 AND location = $2 AND seq > $3 ORDER BY seq LIMIT $4",
            params![sku, location, after, page.fetch_limit()],
        )
        .await?;
    let list = found
        .iter()
        .map(movement_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(list, page, |m| m.seq.to_string()))
}

/// The ledger's own check: on hand equals the sum of movements and held equals the pending
/// holds, for every level. Returns the levels that disagree (empty when the books balance).
pub async fn unbalanced(db: &Db) -> Result<Vec<String>, Error> {
    let rows = db
        .read()
        .await?
        .query(
            "SELECT l.sku, l.location, l.on_hand, l.held,
                    CAST(COALESCE((SELECT SUM(m.delta) FROM stock_movements m WHERE m.sku = l.sku AND m.location = l.location), 0) AS BIGINT) AS moved,
                    CAST(COALESCE((SELECT SUM(h.quantity) FROM holds h WHERE h.sku = l.sku AND h.location = l.location AND h.status = 'pending'), 0) AS BIGINT) AS pending
             FROM stock_levels l",
            &[],
        )
        .await?;
    let mut wrong = Vec::new();
    for r in &rows {
        let (on_hand, held) = (r.int("on_hand")?, r.int("held")?);
        let (moved, pending) = (r.int("moved")?, r.int("pending")?);
        if on_hand != moved || held != pending {
            wrong.push(format!(
                "{}@{}: on_hand {on_hand} vs movements {moved}, held {held} vs pending {pending}",
                r.text("sku")?,
                r.text("location")?
            ));
        }
    }
    Ok(wrong)
}

pub use inventory::Transfer;

fn transfer_from_row(row: &Row) -> Result<Transfer, Error> {
    Ok(Transfer {
        id: row.text("id")?,
        sku: row.text("sku")?,
        from_location: row.text("from_location")?,
        to_location: row.text("to_location")?,
        quantity: row.int("quantity")?,
        status: row.text("status")?,
        reference: row.opt_text("reference")?,
        created_at: rows::timestamp(row, "created_at")?,
        received_at: rows::opt_timestamp(row, "received_at")?,
    })
}

pub async fn find_transfer(conn: &mut Conn, id: &str) -> Result<Option<Transfer>, Error> {
    conn.query_opt("SELECT * FROM transfers WHERE id = $1", params![id])
        .await?
        .as_ref()
        .map(transfer_from_row)
        .transpose()
}

pub async fn get_transfer(db: &Db, id: &str) -> Result<Transfer, Error> {
    find_transfer(&mut db.read().await?, id)
        .await?
        .ok_or_else(|| Error::not_found("transfer", id))
}

/// Ships `quantity` from one location to another: a `transfer_out` movement at the source
/// (never taking held units), and the transfer in transit.
pub async fn ship_transfer(
    conn: &mut Conn,
    sku: &str,
    from: &str,
    to: &str,
    quantity: i64,
    reference: Option<String>,
    actor: &str,
) -> Result<Transfer, Error> {
    if from == to {
        return Err(Error::validation(
            "to_location",
            "a transfer goes to another location",
        ));
    }
    if crate::locations::find_location(conn, to).await?.is_none() {
        return Err(Error::unknown_reference("to_location", "location", to));
    }
    let id = kernel::id::new_id("trf");
    let out = NewMovement {
        sku: sku.to_owned(),
        location: from.to_owned(),
        kind: MovementKind::TransferOut,
        quantity,
        reason: format!("transfer to {to}"),
        reference: Some(id.clone()),
        client_key: None,
    };
    record_movement(conn, &out, actor).await?;
    // The destination gets its level now, so its in-transit units show before the first receipt.
    ensure_level(conn, sku, to).await?;
    let t = Transfer {
        id,
        sku: sku.to_owned(),
        from_location: from.to_owned(),
        to_location: to.to_owned(),
        quantity,
        status: "in_transit".into(),
        reference,
        created_at: Timestamp::now(),
        received_at: None,
    };
    conn.execute(
        "INSERT INTO transfers (id, sku, from_location, to_location, quantity, status, reference, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        params![&t.id, &t.sku, &t.from_location, &t.to_location, t.quantity, &t.status, &t.reference, t.created_at.to_text()],
    )
    .await?;
    events::emit(conn, Event::TransferShipped(&t), &t.id, actor).await?;
    Ok(t)
}

/// Receives a transfer at its destination, once: a `transfer_in` movement there.
pub async fn receive_transfer(conn: &mut Conn, id: &str, actor: &str) -> Result<Transfer, Error> {
    let mut t = find_transfer(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("transfer", id))?;
    let now = Timestamp::now();
    let received = conn
        .execute("UPDATE transfers SET status = 'received', received_at = $2 WHERE id = $1 AND status = 'in_transit'", params![id, now.to_text()])
        .await?;
    if received != 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("the transfer is already {}", t.status),
        )
        .with("transfer_id", id));
    }
    let inbound = NewMovement {
        sku: t.sku.clone(),
        location: t.to_location.clone(),
        kind: MovementKind::TransferIn,
        quantity: t.quantity,
        reason: format!("transfer from {}", t.from_location),
        reference: Some(t.id.clone()),
        client_key: None,
    };
    record_movement(conn, &inbound, actor).await?;
    t.status = "received".into();
    t.received_at = Some(now);
    events::emit(conn, Event::TransferReceived(&t), &t.id, actor).await?;
    Ok(t)
}

/// Which transfers of a location a list shows.
#[derive(Debug, Clone, Default)]
pub struct TransferQuery {
    /// `Some(true)`: arriving there; `Some(false)`: leaving; `None`: both.
    pub inbound: Option<bool>,
    /// `in_transit` or `received`; all when `None`.
    pub status: Option<String>,
}

/// A location's transfers, oldest first (ids are time-ordered).
pub async fn location_transfers(
    db: &Db,
    location: &str,
    q: &TransferQuery,
    page: &PageRequest,
) -> Result<Page<Transfer>, Error> {
    let direction = match q.inbound {
        Some(true) => "to_location = $1",
        Some(false) => "from_location = $1",
        None => "(to_location = $1 OR from_location = $1)",
    };
    let sql = format!(
        "SELECT * FROM transfers WHERE {direction} AND ($2 = '' OR status = $2) AND id > $3 \
         ORDER BY id LIMIT $4"
    );
    let found = db
        .read()
        .await?
        .query(
            &sql,
            params![
                location,
                q.status.clone().unwrap_or_default(),
                page.after.clone().unwrap_or_default(),
                page.fetch_limit()
            ],
        )
        .await?;
    let list = found
        .iter()
        .map(transfer_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(list, page, |t| t.id.clone()))
}
