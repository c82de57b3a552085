//! The payloads of events that are not a domain value as it is: each field is part of the
//! event's published contract (its JSON Schema is generated from these types).
//!
//! Payloads that name a person carry ids only: what the customer said, their e-mail or their
//! phone stay behind the API, where access rules and erasure apply.

use customers::{IdentityKind, InteractionMedium, ProfileStatus, ReviewReason};
use inventory::{Hold, LevelSnapshot, Movement, SourcingPolicy};
use kernel::{Currency, Timestamp};
use orders::{FulfilmentMode, OrderState, PaymentMethod, RefundMethod, ReturnedLine};
use schemars::JsonSchema;
use serde::Serialize;

/// A stock movement and the level it left.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StockMoved {
    pub movement: Movement,
    /// The level of the SKU at the location after the movement.
    pub availability: LevelSnapshot,
}

/// A new safety stock at a location.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SafetySet {
    pub sku: String,
    pub location: String,
    /// Units kept back from sale there.
    pub safety: i64,
    pub availability: LevelSnapshot,
}

/// A hold as it is after the change, with the level it left.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HoldChanged {
    #[serde(flatten)]
    pub hold: Hold,
    pub availability: LevelSnapshot,
}

/// A channel's new sourcing policy.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SourcingSet {
    pub channel: String,
    pub policy: SourcingPolicy,
}

/// A channel price override removed: the channel charges the base price again.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OverrideRemoved {
    pub sku: String,
    pub currency: Currency,
    pub channel: String,
}

/// Store credit spent on an order, or given back when that order was cancelled or returned.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CreditMoved {
    pub store_credit_id: String,
    pub order_id: String,
    pub amount_minor: i64,
    pub currency: Currency,
}

/// A movement on a stored-value account (gift card or store credit); never its code nor PIN.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ValueMoved {
    pub account_id: String,
    /// `gift_card` or `credit`.
    pub kind: String,
    /// Signed: positive adds value.
    pub amount_minor: i64,
    /// The balance after it.
    pub balance_minor: i64,
    pub currency: Currency,
    pub order_id: Option<String>,
}

/// A till's offline batch, applied.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TillBatchApplied {
    pub till_id: String,
    pub location: String,
    /// The till's own batch number (1, 2, 3… without gaps).
    pub seq: i64,
    pub sales: i64,
    pub returns: i64,
    pub movements: i64,
    pub conflicts: i64,
}

/// A conflict between what a till did offline and what happened meanwhile.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PosConflict {
    pub id: String,
    pub location: String,
    pub till_id: String,
    /// The till's receipt number.
    pub receipt: String,
    pub order_id: Option<String>,
    /// `stock`, `points`, `coupon` or `gift_card`.
    pub kind: String,
    pub sku: Option<String>,
    /// Units, points or minor units short.
    pub short: i64,
    /// `open`, or `resolved` with its resolution.
    pub status: String,
    /// `transfer`, `cancel_online` or `accept`.
    pub resolution: Option<String>,
}

/// A profile's state after it was created or updated (no personal data).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProfileChanged {
    pub id: String,
    pub status: ProfileStatus,
    pub home_store: Option<String>,
    pub updated_at: Timestamp,
}

/// Two profiles found to be one person: the absorbed one now resolves to the survivor.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Merged {
    pub id: String,
    pub survivor_id: String,
    pub absorbed_id: String,
    /// What linked them: `event`, `link` or `review`.
    pub cause: String,
    /// The event, request or review that caused it.
    pub reference: Option<String>,
    /// The kinds of the identifiers the two profiles shared.
    pub identifier_kinds: Vec<IdentityKind>,
    pub at: Timestamp,
}

/// A pair of profiles waiting for a person to decide, or the dismissal of that review.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReviewChanged {
    pub id: String,
    pub customer_a: String,
    pub customer_b: String,
    pub reason: ReviewReason,
    /// `open`, `merged` or `dismissed`.
    pub status: String,
}

/// What an erasure removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Erased {
    pub customer_id: String,
    /// Profiles merged into it earlier, erased with it.
    pub merged_profiles: Vec<String>,
    pub identities_removed: u64,
    pub events_pseudonymised: u64,
    pub interactions_blanked: u64,
    pub erased_at: Timestamp,
}

/// A service interaction recorded; its summary is personal data and stays behind the API.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct InteractionRecorded {
    pub id: String,
    pub customer_id: String,
    pub medium: InteractionMedium,
    pub direction: customers::Direction,
    pub location_code: Option<String>,
    /// Orders and returns it was about.
    pub references: Vec<String>,
    pub occurred_at: Timestamp,
}

/// Whether a batch's events were linked to profiles as they were stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchResolution {
    /// Resolved in the same command: the counts below are final.
    Done,
    /// Stored durably; `relais.customer.events_resolved` follows.
    Pending,
}

/// A batch of behavioural events accepted.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EventsIngested {
    pub resolution: BatchResolution,
    pub accepted: usize,
    pub rejected: usize,
    /// With `done`: how many profiles the batch created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles_created: Option<usize>,
    /// With `done`: their ids, in place of one `relais.customer.created` per new visitor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<Vec<String>>,
    /// With `done`: how many merges the batch caused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merges: Option<usize>,
}

/// A run of stored events linked to profiles behind the log.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EventsResolved {
    pub events: u64,
    /// The last sequence number resolved.
    pub upto: i64,
    pub profiles_created: usize,
    /// The profiles created (ids only), in place of one `relais.customer.created` each.
    pub created: Vec<String>,
    pub merges: u64,
}

/// A behavioural event the resolver could not link, set aside with its error.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EventSetAside {
    pub seq: i64,
    /// The error code it failed with.
    pub code: String,
    pub message: String,
}

/// A set-aside event linked after all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct EventRetried {
    pub seq: i64,
    pub customer_id: String,
    /// Whether linking it created the profile.
    pub created: bool,
    pub merges: usize,
}

/// An order line as events carry it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OrderLineSummary {
    pub line: i64,
    pub sku: String,
    pub quantity: i64,
    /// Where the line is held and handed over (or shipped from).
    pub location: String,
}

/// An order as events carry it: who, where, what and how much (no pickup code).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OrderSummary {
    pub order_id: String,
    pub customer_id: Option<String>,
    pub channel: String,
    pub mode: FulfilmentMode,
    pub state: OrderState,
    /// The fulfilling store (all modes but ship).
    pub location: Option<String>,
    /// The company or franchisee that sells.
    pub owner_name: Option<String>,
    pub currency: Currency,
    pub total_minor: i64,
    pub lines: Vec<OrderLineSummary>,
}

/// An order after a transition.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OrderMoved {
    #[serde(flatten)]
    pub order: OrderSummary,
    pub from_state: OrderState,
    /// `ready_for_pickup`: the code the customer gives at the counter, for the message that
    /// tells them (the event stream is for back-office keys only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickup_code: Option<String>,
    /// `ready_for_pickup`: when the order becomes a no-show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collect_by: Option<Timestamp>,
    /// `purchased`: what the customer paid at the till.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_in_store_minor: Option<i64>,
    /// `no_show`, `expired`, `cancelled`: what went back to the customer's payments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunded_minor: Option<i64>,
}

/// Goods of an order came back, in a store or by mail.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OrderReturned {
    pub return_id: String,
    pub order_id: String,
    /// The receiving location.
    pub location: String,
    pub by_mail: bool,
    pub method: RefundMethod,
    /// What the returned goods are worth (the prices paid).
    pub value_minor: i64,
    /// Given back to the original payments.
    pub refund_minor: i64,
    /// Paid by the customer on top (an exchange for dearer goods).
    pub paid_minor: i64,
    pub currency: Currency,
    /// The new sale of an exchange.
    pub exchange_order: Option<String>,
    pub lines: Vec<ReturnedLine>,
}

/// Coupon codes made for a promotion: one typed code, or a generated batch.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CouponsCreated {
    pub promotion_id: String,
    /// The batch's id (generated codes); absent for one typed code.
    pub batch: Option<String>,
    /// The typed code, or the first of the batch.
    pub first_code: String,
    pub count: i64,
    pub max_uses: i64,
}

/// A coupon code given to one customer: only they may use it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CouponIssued {
    pub code: String,
    pub promotion_id: String,
    pub customer_id: String,
}

/// An order's use of a coupon code: reserved at checkout, redeemed once the customer has the
/// goods, released when the order is cancelled or lapses.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CouponUse {
    pub code: String,
    pub promotion_id: String,
    pub order_id: String,
    pub customer_id: Option<String>,
}

/// Money given back to one payment of an order.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PaymentRefunded {
    pub order_id: String,
    pub payment_id: String,
    pub method: PaymentMethod,
    pub amount_minor: i64,
    pub currency: Currency,
}

/// An API key created (never its token).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct KeyCreated {
    pub id: String,
    pub name: String,
    /// The first characters of the token, to recognise it in lists.
    pub prefix: String,
    /// `admin`, `channel:<code>`, `store:<location>`, `service`.
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
}

/// A console user as events show it: no e-mail, no password.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StaffUserChanged {
    pub id: String,
    pub name: String,
    /// `admin`, `store_manager`, `associate`, `service_agent` or `marketer`.
    pub role: String,
    /// The location codes the user works at (store roles).
    pub stores: Vec<String>,
    pub active: bool,
    /// The password was set or reset by this change.
    pub password_changed: bool,
}

/// A console user locked out after wrong passwords, until `until`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StaffUserLocked {
    pub id: String,
    pub failed_logins: i64,
    pub until: Timestamp,
}

/// An API key revoked: its token stops working at once.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct KeyRevoked {
    pub id: String,
}

/// A change of available-to-promise, as published on NATS (`relais.availability.<location>.<sku>`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AvailabilityChanged {
    /// The outbox sequence number of the event that caused it.
    pub seq: i64,
    pub sku: String,
    pub location: String,
    pub atp: i64,
    pub on_hand: i64,
    pub held: i64,
    pub safety: i64,
    /// The event that caused it, e.g. `relais.hold.created`.
    pub cause: String,
    pub at: Timestamp,
}

/// A webhook subscription stopped receiving events: its receiver answered `410 Gone`, or a
/// delivery failed for the whole retry window. An admin enables it again.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WebhookDisabled {
    pub subscription_id: String,
    pub url: String,
    pub reason: String,
}

/// An automation rule's new settings (its wording is not repeated: the languages say which
/// the retailer wrote).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NotificationRuleSet {
    pub rule: String,
    pub enabled: bool,
    pub delay_minutes: i64,
    /// `email`, `sms`, `push`, in the order they are tried.
    pub media: Vec<String>,
    pub every_days: Option<i64>,
    /// Languages with the retailer's own wording.
    pub custom_wording: Vec<String>,
}

/// A profile joined the loyalty programme.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LoyaltyEnrolled {
    pub customer_id: String,
    pub tier: String,
    /// The channel it joined on, when a channel's key enrolled it.
    pub channel: Option<String>,
}

/// Points moved on a member's ledger (no personal data: ids, amounts, reasons written by
/// Relais).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PointsMoved {
    pub customer_id: String,
    /// The ledger entry.
    pub entry_id: String,
    /// Signed: positive adds points.
    pub points: i64,
    /// The member's balance after it.
    pub balance: i64,
    pub order_id: Option<String>,
    pub channel: Option<String>,
    pub location: Option<String>,
}

/// A member moved to another tier.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TierChanged {
    pub customer_id: String,
    pub from_tier: String,
    pub to_tier: String,
    /// Points earned over the programme's tier period.
    pub period_points: i64,
}

/// The loyalty programme was set (its whole document).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LoyaltyProgrammeSet {
    pub currency: Currency,
    pub points_per_unit: i64,
    pub point_value_minor: i64,
    pub expiry_months: i64,
    /// Tier codes, lowest first.
    pub tiers: Vec<String>,
}
