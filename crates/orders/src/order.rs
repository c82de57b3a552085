//! An order as it stands: its lines (what each location holds and handed over, what came
//! back), its payments, where it is in its mode's state machine, and when it lapses.

use kernel::{Currency, Timestamp};
use serde::Serialize;

use crate::payment::Payment;
use crate::{FulfilmentMode, OrderState};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderLine {
    pub line_no: i64,
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    /// The location that holds and hands over (or ships) this line.
    pub location: String,
    pub hold_id: Option<String>,
    /// Units the customer got (handed over, shipped or bought at the till).
    pub sold: i64,
    pub returned: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRecord {
    pub id: String,
    pub provider_ref: Option<String>,
    #[serde(flatten)]
    pub amounts: Payment,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    pub id: String,
    pub customer_id: Option<String>,
    pub cart_id: Option<String>,
    /// The channel the order came from.
    pub channel: String,
    pub mode: FulfilmentMode,
    pub state: OrderState,
    /// The store that fulfils it (all modes but ship).
    pub location: Option<String>,
    pub owner_kind: Option<String>,
    pub owner_name: Option<String>,
    pub currency: Currency,
    pub total_minor: i64,
    pub pickup_code: Option<String>,
    pub receipt_token: String,
    /// When the order lapses on its own: a reservation expires, a pickup is a no-show.
    pub deadline_at: Option<Timestamp>,
    /// Ship-from decision: allocations and their reasons.
    pub routing: Option<serde_json::Value>,
    /// The order whose return this exchange sale settles.
    pub exchange_of: Option<String>,
    pub lines: Vec<OrderLine>,
    pub payments: Vec<PaymentRecord>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

impl Order {
    /// What was captured and not refunded, over every payment.
    pub fn paid_minor(&self) -> i64 {
        self.payments
            .iter()
            .map(|p| p.amounts.captured - p.amounts.refunded)
            .sum()
    }
}
