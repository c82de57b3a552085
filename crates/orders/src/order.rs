//! An order as it stands: its lines (what each location holds and handed over, what came
//! back), its payments, where it is in its mode's state machine, and when it lapses.

use kernel::{Currency, Timestamp};
use promotions::{Applied, LineDiscount};
use serde::Serialize;

use crate::delivery::OrderShipping;
use crate::payment::Payment;
use crate::{FulfilmentMode, OrderState};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderLine {
    pub line_no: i64,
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    /// Off the line's `quantity` units together, by the promotions in `discounts`.
    pub discount_minor: i64,
    pub discounts: Vec<LineDiscount>,
    /// The VAT rate of the line (basis points) in the order's country of tax.
    pub tax_rate_bp: i64,
    /// The VAT in what the line's units cost together, rounded on the line.
    pub tax_minor: i64,
    /// VAT added on top of the price (tax-exclusive countries; 0 where prices include it).
    pub tax_added_minor: i64,
    /// The location that holds and hands over (or ships) this line.
    pub location: String,
    pub hold_id: Option<String>,
    /// Units the customer got (handed over, shipped or bought at the till).
    pub sold: i64,
    pub returned: i64,
}

impl OrderLine {
    /// What the line's `quantity` units cost together, after their discounts, tax included.
    pub fn paid_minor(&self) -> i64 {
        self.unit_price_minor * self.quantity - self.discount_minor + self.tax_added_minor
    }

    /// The VAT in what `units` more of the line cost after the first `already` (their share
    /// of the line's tax, as [`OrderLine::value_of`] is their share of its price).
    pub fn tax_of(&self, already: i64, units: i64) -> i64 {
        promotions::refund_share(self.tax_minor, self.quantity, already, units)
    }

    /// What `units` of the line cost after the first `already`: each unit's share of
    /// [`OrderLine::paid_minor`], so the shares of every unit add up to it exactly.
    pub fn value_of(&self, already: i64, units: i64) -> i64 {
        promotions::refund_share(self.paid_minor(), self.quantity, already, units)
    }

    /// Why `units` of a discounted line come back at `amount_minor` and not at their list
    /// price (a "buy 2 get 1" spreads its free unit over the units it was earned with);
    /// `None` for a line without discounts.
    pub fn return_note(&self, units: i64, amount_minor: i64, currency: Currency) -> Option<String> {
        if self.discount_minor == 0 {
            return None;
        }
        let money = |m: i64| kernel::Money::new(m, currency).display();
        let why: Vec<String> = self
            .discounts
            .iter()
            .map(|d| format!("«{}» −{}", d.name, money(d.amount_minor)))
            .collect();
        Some(format!(
            "{} unit(s) listed at {} each were paid {} together after {}; each unit comes back \
             at its share of what was paid: {units} unit(s), {}",
            self.quantity,
            money(self.unit_price_minor),
            money(self.paid_minor()),
            why.join(", "),
            money(amount_minor),
        ))
    }
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
    /// What the customer pays: the lines after their discounts, and delivery.
    pub total_minor: i64,
    /// Off the lines, by the promotions in `promotions`.
    pub discount_minor: i64,
    /// The promotions the order got, each with why and how much.
    pub promotions: Vec<Applied>,
    /// The country whose VAT applies (the fulfilling store's, or the first ship-from
    /// location's), and the VAT in `total_minor`.
    pub tax_country: Option<String>,
    pub tax_minor: i64,
    pub pickup_code: Option<String>,
    pub receipt_token: String,
    /// When the order lapses on its own: a reservation expires, a pickup is a no-show.
    pub deadline_at: Option<Timestamp>,
    /// Ship-from decision: allocations and their reasons.
    pub routing: Option<serde_json::Value>,
    /// A ship order's delivery: where to, by which method, its fee and promised window.
    pub shipping: Option<OrderShipping>,
    /// Of the delivery's price, what went back to the customer.
    pub shipping_refunded_minor: i64,
    /// The order whose return this exchange sale settles.
    pub exchange_of: Option<String>,
    pub lines: Vec<OrderLine>,
    pub payments: Vec<PaymentRecord>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

impl Order {
    /// The VAT per rate (net, tax, gross), lowest rate first: what a receipt prints.
    pub fn tax_by_rate(&self) -> Vec<promotions::tax::Taxed> {
        let lines = self.lines.iter().map(|l| promotions::tax::Taxed {
            rate_bp: l.tax_rate_bp,
            net_minor: l.paid_minor() - l.tax_minor,
            tax_minor: l.tax_minor,
            gross_minor: l.paid_minor(),
        });
        let delivery = self.shipping.iter().map(|s| promotions::tax::Taxed {
            rate_bp: s.tax_rate_bp,
            net_minor: s.paid_minor() - s.tax_minor,
            tax_minor: s.tax_minor,
            gross_minor: s.paid_minor(),
        });
        promotions::tax::by_rate(lines.chain(delivery))
    }

    /// What was captured and not refunded, over every payment.
    pub fn paid_minor(&self) -> i64 {
        self.payments
            .iter()
            .map(|p| p.amounts.captured - p.amounts.refunded)
            .sum()
    }
}
