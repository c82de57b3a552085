//! Notifications, as staff and channels see them: the automation rules (admin sets them),
//! the send log (staff read it), how a customer likes to be written to, and the
//! back-in-stock requests a customer makes on any channel (any key that may see the
//! customer, [`crate::customers::reach`]). The pipeline that fires and sends is
//! [`crate::notifier`].

use kernel::{Error, Timestamp};
use notify::{Language, Medium, RuleConfig, RuleKind};
use outbox::Event;
use outbox::payloads::NotificationRuleSet;
use store::notifications::{LogFilter, Notification, Preferences};
use store::stock_alerts::StockAlert;
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;
use crate::command::{Needs, as_writer};

/// Every rule with its settings.
pub async fn rules(db: &Db, p: &Principal) -> Result<Vec<(RuleKind, RuleConfig)>, Error> {
    p.require_marketing()?;
    store::notifications::rules(&mut db.read().await?).await
}

/// Sets a rule (the whole of it), with `relais.notification_rule.set`.
pub async fn set_rule(
    db: &Db,
    p: &Principal,
    (kind, config): (RuleKind, RuleConfig),
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce((RuleKind, RuleConfig)) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    p.require_marketing()?;
    config.validate(kind)?;
    let now = crate::clock::now();
    as_writer(
        Needs::Marketing,
        (db, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::notifications::save_rule(c, kind, &config, now).await?;
                let set = NotificationRuleSet {
                    rule: kind.as_str().to_owned(),
                    enabled: config.enabled,
                    delay_minutes: config.delay_minutes,
                    media: config.media.iter().map(|m| m.as_str().to_owned()).collect(),
                    every_days: config.every_days,
                    custom_wording: config
                        .wording
                        .keys()
                        .map(|l| l.as_str().to_owned())
                        .collect(),
                };
                store::events::emit(c, Event::NotificationRuleSet(&set), kind.as_str(), &actor)
                    .await?;
                Ok((kind, config))
            })
        },
        render,
    )
    .await
}

/// The send log (staff), newest first; a customer's entries follow their merges.
pub async fn log(
    db: &Db,
    p: &Principal,
    mut filter: LogFilter,
    limit: i64,
) -> Result<Vec<Notification>, Error> {
    p.require_staff()?;
    let mut conn = db.read().await?;
    if let Some(id) = filter.customer_id.take() {
        filter.customer_id = Some(store::profiles::followed(&mut conn, &id).await?.id);
    }
    store::notifications::log(&mut conn, &filter, limit).await
}

/// How a customer likes to be written to.
pub async fn preferences(db: &Db, p: &Principal, customer: &str) -> Result<Preferences, Error> {
    let mut conn = db.read().await?;
    let profile = crate::customers::reach(&mut conn, p, customer).await?;
    store::notifications::preferences(&mut conn, &profile.id).await
}

/// Sets a customer's language, preferred medium and time zone (each may be cleared).
pub async fn set_preferences(
    db: &Db,
    p: &Principal,
    customer: &str,
    (language, medium, time_zone): (Option<Language>, Option<Medium>, Option<String>),
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Preferences) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    if let Some(zone) = &time_zone {
        catalog::location::validate_time_zone("time_zone", zone)?;
    }
    let profile = crate::customers::reach(&mut db.read().await?, p, customer).await?;
    let wanted = Preferences {
        language,
        medium,
        time_zone,
    };
    let now = crate::clock::now();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                store::notifications::set_preferences(c, &profile.id, &wanted, now).await?;
                Ok(wanted)
            })
        },
        render,
    )
    .await
}

/// A customer's back-in-stock requests.
pub async fn alerts(db: &Db, p: &Principal, customer: &str) -> Result<Vec<StockAlert>, Error> {
    let mut conn = db.read().await?;
    let profile = crate::customers::reach(&mut conn, p, customer).await?;
    store::stock_alerts::of_customer(&mut conn, &profile.id).await
}

/// Asks to be told when `sku` is available at store `location` (the one already open, if
/// any, is the answer).
pub async fn open_alert(
    db: &Db,
    p: &Principal,
    customer: &str,
    (sku, location): (String, String),
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(StockAlert) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let mut conn = db.read().await?;
    let profile = crate::customers::reach(&mut conn, p, customer).await?;
    if store::catalog::find_variant(&mut conn, &sku)
        .await?
        .is_none()
    {
        return Err(Error::unknown_reference("sku", "variant", &sku));
    }
    let store_ok = store::locations::find_location(&mut conn, &location)
        .await?
        .is_some_and(|l| l.kind == catalog::location::LocationKind::Store);
    if !store_ok {
        return Err(Error::unknown_reference("location", "store", &location));
    }
    drop(conn);
    let alert = StockAlert {
        id: kernel::id::new_id("sta"),
        customer_id: profile.id,
        sku,
        location,
        channel: p.own_channel().map(str::to_owned),
        status: "open".into(),
        created_at: crate::clock::now(),
        notified_at: None,
    };
    db.write_once(
        idempotency,
        move |c| Box::pin(async move { store::stock_alerts::open(c, &alert).await }),
        render,
    )
    .await
}

/// Withdraws one of a customer's open requests.
pub async fn cancel_alert(
    db: &Db,
    p: &Principal,
    customer: &str,
    id: String,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(StockAlert) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let mut conn = db.read().await?;
    let profile = crate::customers::reach(&mut conn, p, customer).await?;
    let alert = store::stock_alerts::get(&mut conn, &id).await?;
    if alert.customer_id != profile.id {
        return Err(Error::not_found("stock alert", &id));
    }
    drop(conn);
    let now: Timestamp = crate::clock::now();
    db.write_once(
        idempotency,
        move |c| Box::pin(async move { store::stock_alerts::cancel(c, &id, now).await }),
        render,
    )
    .await
}
