//! Loyalty, on every channel: the programme (admin sets it, every key reads it), enrolment
//! and a member's balance and history (any key that may see the customer), corrections by
//! service, and [`settle_order`] — what an order does to its customer's points, run in the
//! same command as every change to an order (placement, transitions, returns, the deadline
//! sweep, a till's offline sale).
//!
//! [`settle_order`] is idempotent: each entry it posts is keyed by the order and the running
//! total it is for, so an order retried, replayed or settled twice earns once, and partial
//! refunds claw back in proportion without drift.

use kernel::{Error, Timestamp};
use loyalty::{EarnLine, EntryKind, Programme};
use orders::payment::PaymentMethod;
use orders::{FulfilmentMode, OrderState};
use outbox::Event;
use outbox::payloads::LoyaltyProgrammeSet;
use store::loyalty::{Entry, Member, NewEntry};
use store::orders::Order;
use store::{Conn, Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;
use crate::command::{Needs, as_writer};

/// The programme in force.
pub async fn programme(db: &Db) -> Result<Programme, Error> {
    store::loyalty::programme(&mut db.read().await?).await
}

/// Sets the programme (the whole of it), with `relais.loyalty.programme_set`.
pub async fn set_programme(
    db: &Db,
    p: &Principal,
    programme: Programme,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Programme) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    programme.validate()?;
    let now = crate::clock::now();
    as_writer(
        Needs::Admin,
        (db, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::loyalty::save_programme(c, &programme, now).await?;
                let set = LoyaltyProgrammeSet {
                    currency: programme.currency,
                    points_per_unit: programme.points_per_unit,
                    point_value_minor: programme.point_value_minor,
                    expiry_months: programme.expiry_months,
                    tiers: programme.tiers.iter().map(|t| t.code.clone()).collect(),
                };
                store::events::emit(c, Event::LoyaltyProgrammeSet(&set), "programme", &actor)
                    .await?;
                Ok(programme)
            })
        },
        render,
    )
    .await
}

/// Enrols a customer `p` may see (the membership they have, if any), on the key's channel.
pub async fn enrol(
    db: &Db,
    p: &Principal,
    customer: &str,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Member) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let profile = crate::customers::reach(&mut db.read().await?, p, customer).await?;
    let channel = p.own_channel().map(str::to_owned);
    let actor = p.key_id.clone();
    let now = crate::clock::now();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                let programme = store::loyalty::programme(c).await?;
                let tier = programme.tiers[0].code.clone();
                let id = profile.id;
                store::loyalty::enrol(c, &id, &tier, channel.as_deref(), &actor, now).await
            })
        },
        render,
    )
    .await
}

/// A member's account: the membership and the latest entries (before `before_seq`).
pub async fn account(
    db: &Db,
    p: &Principal,
    customer: &str,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<(Member, Vec<Entry>), Error> {
    let mut conn = db.read().await?;
    let profile = crate::customers::reach(&mut conn, p, customer).await?;
    let member = store::loyalty::member(&mut conn, &profile.id)
        .await?
        .ok_or_else(|| Error::not_found("loyalty member", &profile.id))?;
    let entries = store::loyalty::entries(&mut conn, &profile.id, before_seq, limit).await?;
    Ok((member, entries))
}

/// A correction by service or an administrator: `points` (±) with the reason, never below
/// zero.
pub async fn adjust(
    db: &Db,
    p: &Principal,
    customer: &str,
    (points, reason): (i64, String),
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Entry) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    p.require_staff()?;
    let reason = kernel::text::bounded("reason", &reason, 3, 200)?;
    EntryKind::Adjust.check(points)?;
    let profile = crate::customers::reach(&mut db.read().await?, p, customer).await?;
    let actor = p.key_id.clone();
    let now = crate::clock::now();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                let programme = store::loyalty::programme(c).await?;
                let entry = NewEntry {
                    customer_id: profile.id.clone(),
                    kind: EntryKind::Adjust,
                    points,
                    source: kernel::id::new_id("adj"),
                    order_id: None,
                    channel: None,
                    location: None,
                    reason: Some(reason),
                    expires_at: (points > 0).then(|| programme.expiry_of(now)).flatten(),
                    at: now,
                };
                let posted = store::loyalty::post(c, &entry, &actor).await?;
                retier(c, &programme, (&profile.id, None), now, &actor).await?;
                posted.ok_or_else(|| Error::internal("a fresh adjustment was posted before"))
            })
        },
        render,
    )
    .await
}

/// Redeems a member's points for a reward: the points leave the balance (a conditional write:
/// never below zero) and a store credit of the reward's value is issued to the member, in
/// one command. Any key that may see the customer (the member redeems on any channel).
pub async fn redeem(
    db: &Db,
    p: &Principal,
    customer: &str,
    reward: &str,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(store::stored_value::Account) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let mut conn = db.read().await?;
    let profile = crate::customers::reach(&mut conn, p, customer).await?;
    let programme = store::loyalty::programme(&mut conn).await?;
    let reward = programme.reward(reward)?.clone();
    drop(conn);
    let (actor, now) = (p.key_id.clone(), crate::clock::now());
    let channel = p.own_channel().map(str::to_owned);
    let credit = store::stored_value::NewAccount {
        id: kernel::id::new_id("crd"),
        kind: store::stored_value::Kind::Credit,
        customer_id: Some(profile.id.clone()),
        currency: programme.currency,
        amount_minor: reward.value_minor,
        code_hash: None,
        code_hint: None,
        pin_hash: None,
        expires_at: Some(loyalty::programme::add_months(now, reward.valid_months)),
        return_id: None,
        order_id: None,
        reason: Some(format!("reward: {}", reward.name)),
        at: now,
    };
    let spend = NewEntry {
        customer_id: profile.id,
        kind: EntryKind::Spend,
        points: -reward.points,
        source: format!("reward:{}", credit.id),
        order_id: None,
        channel,
        location: None,
        reason: Some(format!("reward: {}", reward.name)),
        expires_at: None,
        at: now,
    };
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                store::loyalty::post(c, &spend, &actor).await?;
                store::stored_value::open(c, &credit, &actor).await?;
                store::stored_value::find(c, &credit.id)
                    .await?
                    .ok_or_else(|| Error::internal("a reward's credit just issued is missing"))
            })
        },
        render,
    )
    .await
}

/// Points an order pays with, checked before the command: the customer is a member holding
/// them, and they pay a whole amount. Answers what they pay, in minor units.
pub async fn check_spend(
    conn: &mut Conn,
    customer: Option<&str>,
    points: i64,
) -> Result<i64, Error> {
    let customer = customer.ok_or_else(|| {
        Error::validation("payment.points", "points are spent by a signed-in member")
    })?;
    let programme = store::loyalty::programme(conn).await?;
    if points < programme.min_spend_points {
        return Err(Error::validation(
            "payment.points",
            format!("at least {} points at once", programme.min_spend_points),
        ));
    }
    let member = store::loyalty::member(conn, customer)
        .await?
        .filter(Member::is_active)
        .ok_or_else(|| Error::validation("payment.points", "the customer is not a member"))?;
    if member.balance < points {
        return Err(loyalty::ledger::short(member.balance, points));
    }
    Ok(programme.value_of(points))
}

/// Everything an order owes its customer's points now, posted once each: the points it paid
/// with, what it earns once it is a sale (a reservation when bought), spent points given back
/// and earned points clawed back in proportion to what was refunded.
pub async fn settle_order(conn: &mut Conn, order: &Order, actor: &str) -> Result<(), Error> {
    // The member first: most orders' customers are none, and then the programme is not read.
    let Some(member) = active_member(conn, order).await? else {
        return Ok(());
    };
    let programme = store::loyalty::programme(conn).await?;
    let posted = store::loyalty::of_order(conn, &order.id).await?;
    settle_member(conn, &programme, (order, &posted), &member, actor).await
}

/// [`settle_order`] for an order recorded in this same command (a till's sale), which no
/// entry can name yet, with the programme already read (a till's batch settles many).
pub async fn settle_new_order(
    conn: &mut Conn,
    programme: &Programme,
    order: &Order,
    actor: &str,
) -> Result<(), Error> {
    match active_member(conn, order).await? {
        Some(member) => settle_member(conn, programme, (order, &[]), &member, actor).await,
        None => Ok(()),
    }
}

/// The order's customer, when an active member.
async fn active_member(conn: &mut Conn, order: &Order) -> Result<Option<Member>, Error> {
    let Some(customer) = &order.customer_id else {
        return Ok(None);
    };
    Ok(store::loyalty::member(conn, customer)
        .await?
        .filter(Member::is_active))
}

/// Settles `order` given the entries already `posted` about it (read in this command).
async fn settle_member(
    conn: &mut Conn,
    programme: &Programme,
    (order, posted): (&Order, &[Entry]),
    member: &Member,
    actor: &str,
) -> Result<(), Error> {
    let customer = &member.customer_id;
    let mut post = Poster {
        order,
        posted,
        customer,
        actor,
        now: crate::clock::now(),
        balance: member.balance,
    };
    settle_spend(conn, programme, posted, &mut post).await?;
    if settle_earn(conn, programme, posted, &member.tier, &mut post).await? {
        let tier = Some(member.tier.as_str());
        retier(conn, programme, (customer, tier), post.now, actor).await?;
    }
    Ok(())
}

/// The points an order paid with leave the balance once; refunds of that payment give them
/// back in proportion.
async fn settle_spend(
    conn: &mut Conn,
    programme: &Programme,
    posted: &[Entry],
    post: &mut Poster<'_>,
) -> Result<(), Error> {
    let (paid, refunded) = paid_with(post.order, |m| m == PaymentMethod::LoyaltyPoints);
    if paid == 0 {
        return Ok(());
    }
    let mut spent = -sum(posted, EntryKind::Spend);
    if spent == 0 {
        spent = programme.points_for(paid)?;
        post.entry(conn, EntryKind::Spend, -spent, "spend", None)
            .await?;
    }
    let released = sum(posted, EntryKind::Release);
    let due = loyalty::clawback_due(spent, paid, refunded, released);
    if due > 0 {
        let what = format!("release:{refunded}");
        post.entry(conn, EntryKind::Release, due, &what, None)
            .await?;
    }
    Ok(())
}

/// A sale earns once (a reservation when it is bought); refunds claw back in proportion.
/// Answers whether points moved.
async fn settle_earn(
    conn: &mut Conn,
    programme: &Programme,
    posted: &[Entry],
    tier: &str,
    post: &mut Poster<'_>,
) -> Result<bool, Error> {
    let order = post.order;
    let (goods, unsold) = goods_and_unsold(order);
    let paid = paid_with(order, earns).0.min(goods);
    let is_sale = order.mode != FulfilmentMode::Reserve
        || order
            .payments
            .iter()
            .any(|p| p.amounts.method == PaymentMethod::PayInStore);
    let mut earned = sum(posted, EntryKind::Earn);
    let mut moved = false;
    if earned == 0 && is_sale && paid > 0 && unsold < goods {
        let points = earn(conn, programme, order, tier, paid).await?;
        if points > 0 {
            let expires = programme.expiry_of(post.now);
            post.entry(conn, EntryKind::Earn, points, "earn", expires)
                .await?;
            (earned, moved) = (points, true);
        }
    }
    let clawed = -sum(posted, EntryKind::Clawback);
    let mut due = loyalty::clawback_due(earned, goods, unsold, clawed);
    if due > 0 {
        // Points already spent cannot be taken back: never below zero, never blocking a
        // refund.
        due = due.min(post.balance);
    }
    if due > 0 {
        let what = format!("clawback:{unsold}");
        post.entry(conn, EntryKind::Clawback, -due, &what, None)
            .await?;
        moved = true;
    }
    Ok(moved)
}

/// Whether a payment method earns points: money the customer paid, not points, nor the value
/// of goods handed back in an exchange, nor a gift card (its purchase earned already).
fn earns(m: PaymentMethod) -> bool {
    !matches!(
        m,
        PaymentMethod::LoyaltyPoints | PaymentMethod::Exchange | PaymentMethod::GiftCard
    )
}

/// What the goods sold are worth (a reservation's bought units), and of that what is not
/// sold any more: returned, or everything when the order was cancelled or lapsed.
fn goods_and_unsold(order: &Order) -> (i64, i64) {
    let sold = |l: &orders::OrderLine| match order.mode {
        FulfilmentMode::Reserve => l.sold,
        _ => l.quantity,
    };
    let goods: i64 = order.lines.iter().map(|l| l.value_of(0, sold(l))).sum();
    let lapsed = matches!(
        order.state,
        OrderState::Cancelled | OrderState::NoShow | OrderState::Expired
    );
    let unsold = match lapsed {
        true => goods,
        false => order.lines.iter().map(|l| l.value_of(0, l.returned)).sum(),
    };
    (goods, unsold.min(goods))
}

/// Captured and refunded, over the payments of the methods `which` picks.
fn paid_with(order: &Order, which: impl Fn(PaymentMethod) -> bool) -> (i64, i64) {
    order
        .payments
        .iter()
        .filter(|p| which(p.amounts.method))
        .fold((0, 0), |(c, r), p| {
            (c + p.amounts.captured, r + p.amounts.refunded)
        })
}

fn sum(entries: &[Entry], kind: EntryKind) -> i64 {
    entries
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.points)
        .sum()
}

/// What an order earns on `base` (the money it was paid with, delivery left out), its lines
/// weighted by category.
async fn earn(
    conn: &mut Conn,
    programme: &Programme,
    order: &Order,
    tier: &str,
    base: i64,
) -> Result<i64, Error> {
    if order.currency != programme.currency {
        return Ok(0);
    }
    // Categories matter only to a programme that weighs them.
    let facts = if programme.category_pct.is_empty() {
        Default::default()
    } else {
        let skus: Vec<String> = order.lines.iter().map(|l| l.sku.clone()).collect();
        store::catalog::item_facts(conn, &skus).await?
    };
    let goods: i64 = order.lines.iter().map(|l| l.paid_minor()).sum();
    let base = base.min(goods);
    let lines: Vec<EarnLine> = order
        .lines
        .iter()
        .map(|l| EarnLine {
            paid_minor: if goods > 0 {
                (i128::from(l.paid_minor()) * i128::from(base) / i128::from(goods)) as i64
            } else {
                0
            },
            category: facts.get(&l.sku).map(|f| f.category.clone()),
        })
        .collect();
    let promotions: Vec<String> = order
        .promotions
        .iter()
        .map(|a| a.promotion_id.clone())
        .collect();
    let earned = programme.earn(&lines, &order.channel, &promotions, tier, order.created_at);
    Ok(earned.points)
}

/// Posts the entries of one order, following the member's balance as they move it.
struct Poster<'a> {
    order: &'a Order,
    /// Every entry about the order before this settlement.
    posted: &'a [Entry],
    customer: &'a str,
    actor: &'a str,
    now: Timestamp,
    balance: i64,
}

impl Poster<'_> {
    async fn entry(
        &mut self,
        conn: &mut Conn,
        kind: EntryKind,
        points: i64,
        what: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<(), Error> {
        let entry = NewEntry {
            customer_id: self.customer.to_owned(),
            kind,
            points,
            source: format!("order:{}:{what}", self.order.id),
            order_id: Some(self.order.id.clone()),
            channel: Some(self.order.channel.clone()),
            location: self.order.location.clone(),
            reason: None,
            expires_at,
            at: self.now,
        };
        // Every entry of the order was read: one of this kind and source would be among them.
        if (self.posted.iter()).any(|e| e.kind == kind && e.source == entry.source) {
            return Ok(());
        }
        let posted = store::loyalty::post_unposted(conn, &entry, self.actor).await?;
        self.balance = posted.balance_after;
        Ok(())
    }
}

/// Puts a member in the tier their points over the programme's period reach; `tier` is
/// theirs when the caller read it in this same command.
pub(crate) async fn retier(
    conn: &mut Conn,
    programme: &Programme,
    (customer, tier): (&str, Option<&str>),
    now: Timestamp,
    actor: &str,
) -> Result<(), Error> {
    let since = programme.tier_period_start(now);
    let points = store::loyalty::earned_since(conn, customer, since).await?;
    let reached = &programme.tier_for(points).code;
    store::loyalty::set_tier(conn, customer, (tier, reached), points, actor).await
}

/// Expires points due by `now` for up to `limit` members (soonest due first); returns how
/// many members were due (0: none is left).
pub async fn expire_due(db: &Db, now: Timestamp, limit: i64) -> Result<usize, Error> {
    db.write_background(move |c| {
        Box::pin(async move {
            let programme = store::loyalty::programme(c).await?;
            let due = store::loyalty::due_to_expire(c, now, limit).await?;
            let looked_at = due.len();
            for customer in due {
                let (lots, debited) = store::loyalty::lots_and_debits(c, &customer).await?;
                let points = loyalty::expiring(&lots, debited, now);
                if points > 0 {
                    let entry = NewEntry {
                        customer_id: customer.clone(),
                        kind: EntryKind::Expire,
                        points: -points,
                        source: format!("expiry:{customer}:{}", now.to_text()),
                        order_id: None,
                        channel: None,
                        location: None,
                        reason: None,
                        expires_at: None,
                        at: now,
                    };
                    store::loyalty::post(c, &entry, "system").await?;
                    retier(c, &programme, (&customer, None), now, "system").await?;
                }
                let next = lots
                    .iter()
                    .filter_map(|(e, _)| *e)
                    .filter(|e| *e > now)
                    .min();
                store::loyalty::set_next_expiry(c, &customer, next).await?;
            }
            Ok(looked_at)
        })
    })
    .await
}
