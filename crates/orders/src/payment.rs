//! Payments: the amounts an order's payment went through, the rules that keep refunds within
//! what was paid, and the provider interface with a built-in test provider.
//!
//! A payment is authorised (money reserved on the card), then captured (taken) — in one go or
//! in parts, never more than authorised — and refunded in parts, never more than captured. An
//! authorisation nothing was captured from may be voided. `pay_in_store` (click & reserve) has
//! no provider: the till records what it took as captured. Amounts are integer minor units of
//! the payment's currency.

use std::future::Future;

use kernel::{Currency, Error, ErrorCode};
use serde::Serialize;

/// How the customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Through the payment provider (card, wallet…).
    Provider,
    /// At the till, for a reservation turned into a sale.
    PayInStore,
    /// With store credit from an earlier return.
    StoreCredit,
    /// The value of goods returned in the same exchange.
    Exchange,
    /// With loyalty points, at what the programme says a point pays.
    LoyaltyPoints,
    /// With a gift card (its code and PIN presented; the card's id is the reference).
    GiftCard,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Provider => "provider",
            PaymentMethod::PayInStore => "pay_in_store",
            PaymentMethod::StoreCredit => "store_credit",
            PaymentMethod::Exchange => "exchange",
            PaymentMethod::LoyaltyPoints => "loyalty_points",
            PaymentMethod::GiftCard => "gift_card",
        }
    }

    pub fn parse(text: &str) -> Option<PaymentMethod> {
        [
            PaymentMethod::Provider,
            PaymentMethod::PayInStore,
            PaymentMethod::StoreCredit,
            PaymentMethod::Exchange,
            PaymentMethod::LoyaltyPoints,
            PaymentMethod::GiftCard,
        ]
        .into_iter()
        .find(|m| m.as_str() == text)
    }
}

/// The amounts of one payment, in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payment {
    pub method: PaymentMethod,
    pub currency: Currency,
    pub authorised: i64,
    pub captured: i64,
    pub refunded: i64,
    pub voided: bool,
}

fn refused(message: String) -> Error {
    Error::new(ErrorCode::Conflict, message)
}

impl Payment {
    /// An authorised payment.
    pub fn authorised(
        method: PaymentMethod,
        currency: Currency,
        amount: i64,
    ) -> Result<Payment, Error> {
        if amount <= 0 {
            return Err(Error::validation("amount_minor", "must be positive"));
        }
        Ok(Payment {
            method,
            currency,
            authorised: amount,
            captured: 0,
            refunded: 0,
            voided: false,
        })
    }

    /// Takes `amount` of what is authorised and not yet captured.
    pub fn capture(&mut self, amount: i64) -> Result<(), Error> {
        let open = self.authorised - self.captured;
        if self.voided || amount <= 0 || amount > open {
            return Err(refused(format!(
                "cannot capture {amount}: {open} is authorised and not captured"
            ))
            .with("capturable", open));
        }
        self.captured += amount;
        Ok(())
    }

    /// Gives back `amount` of what was captured and not yet refunded.
    pub fn refund(&mut self, amount: i64) -> Result<(), Error> {
        let refundable = self.captured - self.refunded;
        if amount <= 0 || amount > refundable {
            return Err(refused(format!(
                "cannot refund {amount}: {refundable} was paid and not refunded"
            ))
            .with("refundable", refundable));
        }
        self.refunded += amount;
        Ok(())
    }

    /// Releases an authorisation nothing was captured from.
    pub fn void(&mut self) -> Result<(), Error> {
        if self.captured > 0 || self.voided {
            return Err(refused(
                "only an authorisation with nothing captured can be voided".into(),
            ));
        }
        self.voided = true;
        Ok(())
    }
}

/// What a provider answers to an authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorisation {
    Approved { reference: String },
    Declined { reason: String },
}

/// A payment provider. Implementations call the provider's API; the trait keeps the order
/// flow the same whichever provider a retailer uses.
pub trait PaymentProvider: Send + Sync {
    fn authorise(
        &self,
        token: &str,
        currency: &Currency,
        amount: i64,
    ) -> impl Future<Output = Result<Authorisation, Error>> + Send;
    fn capture(
        &self,
        reference: &str,
        amount: i64,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    fn refund(
        &self,
        reference: &str,
        amount: i64,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Releases an authorisation that will not be captured (the order could not be placed).
    fn void(&self, reference: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The built-in test provider: approves everything except the card tokens told to decline
/// and amounts above a limit, so demos and tests can exercise both paths.
#[derive(Debug, Clone, Default)]
pub struct TestProvider {
    /// Card tokens that are declined (`tok_decline` always is).
    pub declined_tokens: Vec<String>,
    /// Amounts above this are declined (insufficient funds).
    pub limit_minor: Option<i64>,
}

impl PaymentProvider for TestProvider {
    async fn authorise(
        &self,
        token: &str,
        currency: &Currency,
        amount: i64,
    ) -> Result<Authorisation, Error> {
        if token == "tok_decline" || self.declined_tokens.iter().any(|t| t == token) {
            return Ok(Authorisation::Declined {
                reason: "card declined".into(),
            });
        }
        if self.limit_minor.is_some_and(|limit| amount > limit) {
            return Ok(Authorisation::Declined {
                reason: "insufficient funds".into(),
            });
        }
        Ok(Authorisation::Approved {
            reference: format!("test_{}_{}_{amount}", currency.code(), token),
        })
    }

    async fn capture(&self, _reference: &str, _amount: i64) -> Result<(), Error> {
        Ok(())
    }

    async fn refund(&self, _reference: &str, _amount: i64) -> Result<(), Error> {
        Ok(())
    }

    async fn void(&self, _reference: &str) -> Result<(), Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    #[test]
    fn capture_refund_and_void_stay_within_what_was_paid() {
        let mut p = Payment::authorised(PaymentMethod::Provider, eur(), 10_000).unwrap();
        p.capture(6_000).unwrap();
        assert!(p.capture(4_001).is_err());
        p.capture(4_000).unwrap();
        p.refund(2_500).unwrap();
        let e = p.refund(7_501).unwrap_err();
        assert_eq!(e.details["refundable"], 7_500);
        assert!(p.void().is_err(), "money was taken");
        let mut q = Payment::authorised(PaymentMethod::Provider, eur(), 500).unwrap();
        q.void().unwrap();
        assert!(q.capture(1).is_err(), "voided");
        assert!(Payment::authorised(PaymentMethod::PayInStore, eur(), 0).is_err());
    }

    #[test]
    fn the_test_provider_declines_when_told() {
        let provider = TestProvider {
            declined_tokens: vec!["tok_stolen".into()],
            limit_minor: Some(50_000),
        };
        let run = |token: &str, amount| {
            let provider = provider.clone();
            let token = token.to_owned();
            ready_now(async move { provider.authorise(&token, &eur(), amount).await.unwrap() })
        };
        assert!(matches!(
            run("tok_visa", 4_999),
            Authorisation::Approved { .. }
        ));
        assert!(matches!(
            run("tok_decline", 100),
            Authorisation::Declined { .. }
        ));
        assert!(matches!(
            run("tok_stolen", 100),
            Authorisation::Declined { .. }
        ));
        assert!(matches!(
            run("tok_visa", 50_001),
            Authorisation::Declined { .. }
        ));
    }

    /// Polls a future that never waits (the test provider's) to completion.
    fn ready_now<F: Future>(f: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    proptest! {
        #[test]
        fn refunds_never_exceed_what_was_paid(ops in proptest::collection::vec((any::<bool>(), 1i64..4_000), 0..40)) {
            let mut p = Payment::authorised(PaymentMethod::Provider, eur(), 10_000).unwrap();
            for (capture, amount) in ops {
                let _ = if capture { p.capture(amount) } else { p.refund(amount) };
                prop_assert!(0 <= p.refunded && p.refunded <= p.captured && p.captured <= p.authorised);
            }
        }
    }
}
