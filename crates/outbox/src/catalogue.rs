//! The event catalogue: every event type Relais emits, as one Rust type with its payload.
//!
//! [`Event`] has one variant per CloudEvents `type`; the store can only emit an [`Event`], so
//! the payload of each type is what its Rust type says. [`TYPES`] lists the same types with
//! their descriptions and JSON Schemas (draft 2020-12, generated from the payload types):
//! `docs/events.md` and `GET /v1/event-types` are made from it, and every envelope names its
//! schema in `dataschema`.

use customers::segment::Segment;
use customers::{ConsentRecord, ConsentStatus};
use inventory::{HoldStatus, Transfer};
use orders::OrderState;
use schemars::{JsonSchema, Schema, generate::SchemaSettings};
use serde_json::Value;

use crate::payloads::*;

mod markdown;
pub use markdown::markdown;

/// The version of every payload schema. A change that could break a consumer adds a new
/// type (or bumps this for that type) rather than changing a schema in place.
pub const SCHEMA_VERSION: u32 = 1;

/// One event type: its name, what it means, what its subject is, and its payload schema.
#[derive(Debug, Clone, Copy)]
pub struct EventType {
    /// The CloudEvents `type`, `relais.<entity>.<what happened>`.
    pub kind: &'static str,
    description: &'static str,
    /// What the envelope's `subject` holds.
    pub subject: &'static str,
    schema: fn() -> Schema,
}

macro_rules! catalogue {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $kind:literal, subject $subject:literal: $payload:ty; )+) => {
        /// Every event Relais emits: one variant per CloudEvents `type`, holding its payload.
        #[derive(Debug, Clone, Copy)]
        pub enum Event<'a> {
            $( $(#[doc = $doc])+ $variant(&'a $payload), )+
        }

        impl Event<'_> {
            /// The CloudEvents `type`.
            pub fn kind(&self) -> &'static str {
                match self { $( Event::$variant(_) => $kind, )+ }
            }

            /// The payload, as the envelope's `data`.
            pub fn data(&self) -> Result<Value, serde_json::Error> {
                match self { $( Event::$variant(p) => serde_json::to_value(p), )+ }
            }
        }

        /// Every event type, in the order of `docs/events.md`.
        pub static TYPES: &[EventType] = &[
            $( EventType {
                kind: $kind,
                description: concat!($($doc, "\n"),+),
                subject: $subject,
                schema: schema_of::<$payload>,
            }, )+
        ];
    };
}

catalogue! {
    /// A product was created, with its variants.
    ProductCreated = "relais.product.created", subject "product id": catalog::Product;
    /// A product changed (title, attributes, images, status…); carries the product as it is now.
    ProductUpdated = "relais.product.updated", subject "product id": catalog::Product;
    /// A variant was added to a product.
    VariantCreated = "relais.variant.created", subject "SKU": catalog::Variant;
    /// A variant changed; carries the variant as it is now.
    VariantUpdated = "relais.variant.updated", subject "SKU": catalog::Variant;
    /// A store, warehouse or other location was created.
    LocationCreated = "relais.location.created", subject "location code": catalog::Location;
    /// A location changed (hours, capabilities, contact…); carries it as it is now.
    LocationUpdated = "relais.location.updated", subject "location code": catalog::Location;
    /// A sales channel was created.
    ChannelCreated = "relais.channel.created", subject "channel code": catalog::Channel;
    /// A channel's sourcing policy was set: where its stock may be promised from.
    ChannelSourcingSet = "relais.channel.sourcing_set", subject "channel code": SourcingSet;
    /// The base price of a variant in a currency was set.
    PriceSet = "relais.price.set", subject "SKU": pricing::BasePrice;
    /// A channel price override was set (with the reason shown to customers).
    PriceOverrideSet = "relais.price.override_set", subject "SKU": pricing::PriceOverride;
    /// A channel price override was removed.
    PriceOverrideRemoved = "relais.price.override_removed", subject "SKU": OverrideRemoved;
    /// A promotion was created (active or not yet).
    PromotionCreated = "relais.promotion.created", subject "promotion id": promotions::Promotion;
    /// A promotion changed (conditions, effect, budget, switched on or off); carries it as it
    /// is now.
    PromotionUpdated = "relais.promotion.updated", subject "promotion id": promotions::Promotion;
    /// A country's VAT table was set: its rates by tax category, and whether prices include
    /// them.
    TaxTableSet = "relais.tax_table.set", subject "country (ISO 3166-1 alpha-2)": promotions::tax::TaxTable;
    /// A shipping method was set: the channels and countries it serves, its rate and its
    /// delivery promise.
    ShippingMethodSet = "relais.shipping_method.set", subject "shipping method code": orders::delivery::ShippingMethod;
    /// An automation rule was set: on or off, its delay, media, limit per person and the
    /// languages the retailer wrote its own wording for.
    NotificationRuleSet = "relais.notification_rule.set", subject "rule (e.g. `pickup_ready`)": NotificationRuleSet;
    /// A webhook subscription was disabled: its receiver is gone (410) or a delivery failed
    /// for the whole retry window.
    WebhookDisabled = "relais.webhook.disabled", subject "webhook subscription id": WebhookDisabled;
    /// Coupon codes were made for a promotion (one typed code, or a generated batch).
    CouponsCreated = "relais.coupon.created", subject "promotion id": CouponsCreated;
    /// A coupon code was issued to one customer, the only one who may use it now.
    CouponIssued = "relais.coupon.issued", subject "coupon code": CouponIssued;
    /// An order took a use of a coupon code at checkout.
    CouponReserved = "relais.coupon.reserved", subject "coupon code": CouponUse;
    /// The order that took a use of the code was handed over (or sold at the till).
    CouponRedeemed = "relais.coupon.redeemed", subject "coupon code": CouponUse;
    /// The order was cancelled or lapsed: its use of the code is given back.
    CouponReleased = "relais.coupon.released", subject "coupon code": CouponUse;
    /// Stock moved (receipt, sale, adjustment, transfer, return…); carries the new level.
    StockMoved = "relais.stock.moved", subject "SKU": StockMoved;
    /// The safety stock of a SKU at a location was set; carries the new level.
    StockSafetySet = "relais.stock.safety_set", subject "SKU": SafetySet;
    /// Units were held for a cart, an order or a reservation; carries the new level.
    HoldCreated = "relais.hold.created", subject "hold id": HoldChanged;
    /// A hold was committed: its units were sold.
    HoldCommitted = "relais.hold.committed", subject "hold id": HoldChanged;
    /// A hold was released: its units are on sale again.
    HoldReleased = "relais.hold.released", subject "hold id": HoldChanged;
    /// A hold ran out of time: its units are on sale again.
    HoldExpired = "relais.hold.expired", subject "hold id": HoldChanged;
    /// Stock left a location for another; it is in transit.
    TransferShipped = "relais.transfer.shipped", subject "transfer id": Transfer;
    /// A transfer arrived at its destination.
    TransferReceived = "relais.transfer.received", subject "transfer id": Transfer;
    /// An order was placed (one per part of a checkout split by mode or store).
    OrderPlaced = "relais.order.placed", subject "order id": OrderSummary;
    /// The store or warehouse started preparing an order.
    OrderPreparing = "relais.order.preparing", subject "order id": OrderMoved;
    /// A ship order was handed to the carrier.
    OrderShipped = "relais.order.shipped", subject "order id": OrderMoved;
    /// A ship order was delivered.
    OrderDelivered = "relais.order.delivered", subject "order id": OrderMoved;
    /// A click & collect order waits at the store; the customer can be told (pickup code).
    OrderReadyForPickup = "relais.order.ready_for_pickup", subject "order id": OrderMoved;
    /// A click & collect order was collected.
    OrderCollected = "relais.order.collected", subject "order id": OrderMoved;
    /// A click & collect order was not collected in time: stock released, payment refunded.
    OrderNoShow = "relais.order.no_show", subject "order id": OrderMoved;
    /// A click & reserve order is set aside in store, to be tried.
    OrderReadyToTry = "relais.order.ready_to_try", subject "order id": OrderMoved;
    /// A click & reserve order was bought at the till (all or some of it).
    OrderPurchased = "relais.order.purchased", subject "order id": OrderMoved;
    /// A click & reserve order was not bought within its hold.
    OrderExpired = "relais.order.expired", subject "order id": OrderMoved;
    /// A kiosk order waits at the counter.
    OrderReadyAtCounter = "relais.order.ready_at_counter", subject "order id": OrderMoved;
    /// A kiosk order was handed over.
    OrderHandedOver = "relais.order.handed_over", subject "order id": OrderMoved;
    /// An order was cancelled: stock released, payments refunded.
    OrderCancelled = "relais.order.cancelled", subject "order id": OrderMoved;
    /// Goods of an order came back (any store, or by mail), refunded or exchanged.
    OrderReturned = "relais.order.returned", subject "order id": OrderReturned;
    /// Money went back to one payment of an order.
    PaymentRefunded = "relais.payment.refunded", subject "order id": PaymentRefunded;
    /// Store credit paid for an order.
    StoreCreditSpent = "relais.store_credit.spent", subject "store credit id": CreditMoved;
    /// Store credit came back (its order was cancelled or returned).
    StoreCreditCredited = "relais.store_credit.credited", subject "store credit id": CreditMoved;
    /// Store credit was issued: by a return, or by service or an administrator with a reason.
    StoreCreditIssued = "relais.store_credit.issued", subject "store credit id": ValueMoved;
    /// Store credit reached its expiry date with a balance left.
    StoreCreditExpired = "relais.store_credit.expired", subject "store credit id": ValueMoved;
    /// A gift card was sold and paid: it is active with its value.
    GiftCardIssued = "relais.giftcard.issued", subject "gift card id": ValueMoved;
    /// A gift card paid toward an order on some channel.
    GiftCardRedeemed = "relais.giftcard.redeemed", subject "gift card id": ValueMoved;
    /// Money went back to a gift card (the order it paid for was cancelled or returned).
    GiftCardRefunded = "relais.giftcard.refunded", subject "gift card id": ValueMoved;
    /// A gift card reached its expiry date with a balance left.
    GiftCardExpired = "relais.giftcard.expired", subject "gift card id": ValueMoved;
    /// A gift card was voided (the order that bought it was cancelled).
    GiftCardVoided = "relais.giftcard.voided", subject "gift card id": ValueMoved;
    /// A till's offline batch was applied (once; replays change nothing and send nothing).
    TillBatchApplied = "relais.pos.batch_applied", subject "till id": TillBatchApplied;
    /// An offline sale was recorded against something spent meanwhile — a unit sold online,
    /// points or a gift card beyond their balance, a coupon used elsewhere: the store resolves it.
    PosConflict = "relais.pos.conflict", subject "location code": PosConflict;
    /// A store resolved a till conflict: a transfer, the online order cancelled, or accepted.
    PosConflictResolved = "relais.pos.conflict_resolved", subject "location code": PosConflict;
    /// A profile joined the loyalty programme (from any channel).
    LoyaltyEnrolled = "relais.loyalty.enrolled", subject "customer id": LoyaltyEnrolled;
    /// A sale earned points (once per order, however often it is retried or replayed).
    PointsEarned = "relais.loyalty.points_earned", subject "customer id": PointsMoved;
    /// Points paid toward an order (they left the balance when it was placed).
    PointsSpent = "relais.loyalty.points_spent", subject "customer id": PointsMoved;
    /// Spent points came back: their order was cancelled or refunded.
    PointsReleased = "relais.loyalty.points_released", subject "customer id": PointsMoved;
    /// Earned points taken back in proportion to a refund.
    PointsClawedBack = "relais.loyalty.points_clawed_back", subject "customer id": PointsMoved;
    /// Points expired (the oldest first).
    PointsExpired = "relais.loyalty.points_expired", subject "customer id": PointsMoved;
    /// Service or an administrator corrected a balance, with a reason.
    PointsAdjusted = "relais.loyalty.points_adjusted", subject "customer id": PointsMoved;
    /// A member moved to another tier.
    TierChanged = "relais.loyalty.tier_changed", subject "customer id": TierChanged;
    /// The loyalty programme was set.
    LoyaltyProgrammeSet = "relais.loyalty.programme_set", subject "`programme`": LoyaltyProgrammeSet;
    /// A customer profile was created.
    CustomerCreated = "relais.customer.created", subject "customer id": ProfileChanged;
    /// A customer profile changed (home store, status…).
    CustomerUpdated = "relais.customer.updated", subject "customer id": ProfileChanged;
    /// Two profiles were merged: the absorbed profile now resolves to the survivor.
    CustomerMerged = "relais.customer.merged", subject "survivor's customer id": Merged;
    /// Two profiles may be one person but need a person to decide.
    CustomerMergeFlagged = "relais.customer.merge_flagged", subject "customer id (a)": ReviewChanged;
    /// A merge review was dismissed: the two profiles stay apart.
    CustomerMergeDismissed = "relais.customer.merge_dismissed", subject "customer id (a)": ReviewChanged;
    /// A customer was erased (GDPR): personal data removed, history pseudonymised.
    CustomerErased = "relais.customer.erased", subject "customer id": Erased;
    /// A service interaction (call, e-mail, store visit…) was recorded.
    CustomerInteractionRecorded = "relais.customer.interaction_recorded", subject "customer id": InteractionRecorded;
    /// A batch of behavioural events was accepted.
    CustomerEventsIngested = "relais.customer.events_ingested", subject "the batch's reference, or `batch`": EventsIngested;
    /// Stored behavioural events were linked to profiles.
    CustomerEventsResolved = "relais.customer.events_resolved", subject "`events:<last seq>`": EventsResolved;
    /// A behavioural event could not be linked and was set aside.
    CustomerEventSetAside = "relais.customer.event_set_aside", subject "`event:<seq>`": EventSetAside;
    /// A set-aside behavioural event was linked after all.
    CustomerEventRetried = "relais.customer.event_retried", subject "`event:<seq>`": EventRetried;
    /// A customer granted consent for a purpose.
    ConsentGranted = "relais.consent.granted", subject "customer id": ConsentRecord;
    /// A customer refused consent for a purpose.
    ConsentDenied = "relais.consent.denied", subject "customer id": ConsentRecord;
    /// A customer withdrew consent for a purpose.
    ConsentWithdrawn = "relais.consent.withdrawn", subject "customer id": ConsentRecord;
    /// A customer segment was saved.
    SegmentCreated = "relais.segment.created", subject "segment code": Segment;
    /// An API key was created (the event never carries its token).
    ApiKeyCreated = "relais.api_key.created", subject "key id": KeyCreated;
    /// An API key was revoked.
    ApiKeyRevoked = "relais.api_key.revoked", subject "key id": KeyRevoked;
    /// A console user was created (the event never carries a password).
    StaffUserCreated = "relais.staff_user.created", subject "user id": StaffUserChanged;
    /// A console user's role, stores, language or state changed, or its password was reset
    /// (every session of the user ends).
    StaffUserUpdated = "relais.staff_user.updated", subject "user id": StaffUserChanged;
    /// Five wrong passwords in a row locked a console user out for a while.
    StaffUserLocked = "relais.staff_user.locked", subject "user id": StaffUserLocked;
    /// Available-to-promise changed (NATS only: `relais.availability.<location>.<sku>`).
    AvailabilityChanged = "relais.availability.changed", subject "`<location>/<sku>`": AvailabilityChanged;
}

impl<'a> Event<'a> {
    /// The event of a hold that ended with `status` (`None` for `pending`, which is no end).
    pub fn hold_ended(status: HoldStatus, p: &'a HoldChanged) -> Option<Event<'a>> {
        match status {
            HoldStatus::Pending => None,
            HoldStatus::Committed => Some(Event::HoldCommitted(p)),
            HoldStatus::Released => Some(Event::HoldReleased(p)),
            HoldStatus::Expired => Some(Event::HoldExpired(p)),
        }
    }

    /// The event of an order that reached `state` by a transition (`None` for the states
    /// an order starts in).
    pub fn order_reached(state: OrderState, p: &'a OrderMoved) -> Option<Event<'a>> {
        use OrderState as S;
        Some(match state {
            S::Placed | S::Completed => return None,
            S::Preparing => Event::OrderPreparing(p),
            S::Shipped => Event::OrderShipped(p),
            S::Delivered => Event::OrderDelivered(p),
            S::ReadyForPickup => Event::OrderReadyForPickup(p),
            S::Collected => Event::OrderCollected(p),
            S::NoShow => Event::OrderNoShow(p),
            S::ReadyToTry => Event::OrderReadyToTry(p),
            S::Purchased => Event::OrderPurchased(p),
            S::Expired => Event::OrderExpired(p),
            S::ReadyAtCounter => Event::OrderReadyAtCounter(p),
            S::HandedOver => Event::OrderHandedOver(p),
            S::Cancelled => Event::OrderCancelled(p),
        })
    }

    /// The event of a consent answer.
    pub fn consent(r: &'a ConsentRecord) -> Event<'a> {
        match r.status {
            ConsentStatus::Granted => Event::ConsentGranted(r),
            ConsentStatus::Denied => Event::ConsentDenied(r),
            ConsentStatus::Withdrawn => Event::ConsentWithdrawn(r),
        }
    }
}

fn schema_of<T: JsonSchema>() -> Schema {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
}

/// The event type named `kind`.
pub fn find(kind: &str) -> Option<&'static EventType> {
    TYPES.iter().find(|t| t.kind == kind)
}

/// The `dataschema` of events of type `kind`: a URN naming the type and its version; the
/// schema itself is served at `GET /v1/event-types/{type}`.
pub fn dataschema(kind: &str) -> String {
    format!("urn:relais:event-schema:{kind}:{SCHEMA_VERSION}")
}

impl EventType {
    /// What the event means (the doc comment of its variant).
    pub fn description(&self) -> String {
        let lines: Vec<&str> = self.description.lines().map(str::trim).collect();
        lines.join(" ").trim().to_owned()
    }

    pub fn dataschema(&self) -> String {
        dataschema(self.kind)
    }

    /// The JSON Schema (draft 2020-12) of the event's `data`, with its `$id`.
    pub fn schema(&self) -> Value {
        let mut schema = (self.schema)().to_value();
        if let Some(root) = schema.as_object_mut() {
            root.insert("$id".into(), Value::String(self.dataschema()));
            root.insert("title".into(), Value::String(self.kind.to_owned()));
            root.insert("description".into(), Value::String(self.description()));
        }
        schema
    }
}

#[cfg(test)]
mod tests;
