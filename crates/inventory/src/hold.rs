//! Holds: two-phase claims on stock that end exactly once.
//!
//! A hold is created `pending` (it raises `held`, so ATP drops at once) with an expiry. It
//! then ends exactly once: `committed` (becomes a sale of the committed quantity; the rest is
//! released), `released` (cancelled), or `expired` (its deadline passed). Ending an ended hold
//! is refused — except repeating the same ending, which is reported as already done so that
//! retries are harmless.

use kernel::{Error, ErrorCode, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldPurpose {
    /// Items in a shopping cart.
    Cart,
    /// Click & collect: paid, waiting in store.
    Pickup,
    /// Click & reserve: unpaid, kept in store to try on.
    Reserve,
    /// Home delivery being prepared.
    Ship,
}

impl HoldPurpose {
    pub const ALL: [HoldPurpose; 4] = [
        HoldPurpose::Cart,
        HoldPurpose::Pickup,
        HoldPurpose::Reserve,
        HoldPurpose::Ship,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HoldPurpose::Cart => "cart",
            HoldPurpose::Pickup => "pickup",
            HoldPurpose::Reserve => "reserve",
            HoldPurpose::Ship => "ship",
        }
    }

    pub fn parse(text: &str) -> Option<HoldPurpose> {
        HoldPurpose::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// Default lifetime: a cart 15 min, a reservation 48 h, pickup 7 days, shipping 3 days.
    pub fn default_ttl_s(self) -> i64 {
        match self {
            HoldPurpose::Cart => 15 * 60,
            HoldPurpose::Reserve => 48 * 3600,
            HoldPurpose::Pickup => 7 * 24 * 3600,
            HoldPurpose::Ship => 3 * 24 * 3600,
        }
    }
}

/// The lifetime of a hold that does not ask for one, per purpose (configurable per retailer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldTtls {
    pub cart_s: i64,
    pub pickup_s: i64,
    pub reserve_s: i64,
    pub ship_s: i64,
}

impl Default for HoldTtls {
    fn default() -> Self {
        HoldTtls {
            cart_s: HoldPurpose::Cart.default_ttl_s(),
            pickup_s: HoldPurpose::Pickup.default_ttl_s(),
            reserve_s: HoldPurpose::Reserve.default_ttl_s(),
            ship_s: HoldPurpose::Ship.default_ttl_s(),
        }
    }
}

impl HoldTtls {
    pub fn for_purpose(&self, purpose: HoldPurpose) -> i64 {
        match purpose {
            HoldPurpose::Cart => self.cart_s,
            HoldPurpose::Pickup => self.pickup_s,
            HoldPurpose::Reserve => self.reserve_s,
            HoldPurpose::Ship => self.ship_s,
        }
    }

    /// Every lifetime must be 1 s to [`MAX_TTL_S`].
    pub fn validate(self) -> Result<HoldTtls, Error> {
        for p in HoldPurpose::ALL {
            if !(1..=MAX_TTL_S).contains(&self.for_purpose(p)) {
                return Err(Error::validation(
                    p.as_str(),
                    format!("a {} hold lives 1 to {MAX_TTL_S} seconds", p.as_str()),
                ));
            }
        }
        Ok(self)
    }
}

/// What owns a hold, and so decides its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldOwner {
    /// Made through `/v1/holds`: the key that made it commits or releases it.
    Api,
    /// A cart line's: the cart ends it (line removed, checkout, abandonment).
    Cart,
    /// An order's: only the order's transitions end it.
    Order,
}

impl HoldOwner {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldOwner::Api => "api",
            HoldOwner::Cart => "cart",
            HoldOwner::Order => "order",
        }
    }

    pub fn parse(text: &str) -> Option<HoldOwner> {
        [HoldOwner::Api, HoldOwner::Cart, HoldOwner::Order]
            .into_iter()
            .find(|o| o.as_str() == text)
    }

    /// The cart or order that alone may end the hold.
    pub fn owned_by(self) -> Option<&'static str> {
        match self {
            HoldOwner::Api => None,
            HoldOwner::Cart | HoldOwner::Order => Some(self.as_str()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    Pending,
    Committed,
    Released,
    Expired,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Pending => "pending",
            HoldStatus::Committed => "committed",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<HoldStatus> {
        [
            HoldStatus::Pending,
            HoldStatus::Committed,
            HoldStatus::Released,
            HoldStatus::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Hold {
    pub id: String,
    pub sku: String,
    pub location: String,
    pub quantity: i64,
    pub purpose: HoldPurpose,
    /// What holds the stock: a cart id, an order id, a reservation id.
    pub owner_ref: String,
    /// Whether a cart or an order owns the hold (it then ends only through them).
    pub owner: HoldOwner,
    /// The API key that made it through `/v1/holds` (none for carts' and orders' holds).
    #[serde(skip)]
    pub created_by: Option<String>,
    /// The channel the stock was promised on, when a channel asked.
    pub channel: Option<String>,
    pub status: HoldStatus,
    /// Units sold when committed (≤ quantity).
    pub committed_quantity: i64,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub ended_at: Option<Timestamp>,
}

/// How a pending hold ends, with the stock effects storage must apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldEnd {
    pub status: HoldStatus,
    /// Units that leave `held`: always the whole hold.
    pub unhold: i64,
    /// Units sold (leave `on_hand` as a sale movement).
    pub sold: i64,
}

/// Lifetimes a caller may ask for: 1 second to 30 days.
pub const MAX_TTL_S: i64 = 30 * 24 * 3600;

/// Validates a new hold's quantity and lifetime; returns its expiry.
pub fn new_hold_expiry(
    quantity: i64,
    purpose: HoldPurpose,
    ttl_s: Option<i64>,
    now: Timestamp,
) -> Result<Timestamp, Error> {
    if !(1..=1_000_000).contains(&quantity) {
        return Err(Error::validation(
            "quantity",
            "a hold claims 1 to 1000000 units",
        ));
    }
    let ttl = ttl_s.unwrap_or(purpose.default_ttl_s());
    if !(1..=MAX_TTL_S).contains(&ttl) {
        return Err(Error::validation(
            "ttl_s",
            format!("a hold lives 1 to {MAX_TTL_S} seconds"),
        ));
    }
    Ok(Timestamp::from_unix_ms(now.unix_ms() + ttl * 1000))
}

fn already_ended(hold: &Hold) -> Error {
    Error::new(
        ErrorCode::Conflict,
        format!("the hold has already ended: {}", hold.status.as_str()),
    )
    .with("hold_id", hold.id.clone())
    .with("status", hold.status.as_str())
}

/// Rejections are checked in this order: already ended, expired, quantity.
pub fn commit(hold: &Hold, quantity: Option<i64>, now: Timestamp) -> Result<HoldEnd, Error> {
    if hold.status != HoldStatus::Pending {
        return Err(already_ended(hold));
    }
    if now >= hold.expires_at {
        return Err(Error::new(ErrorCode::Conflict, "the hold has expired")
            .with("hold_id", hold.id.clone())
            .with("status", "expired"));
    }
    let sold = quantity.unwrap_or(hold.quantity);
    if !(1..=hold.quantity).contains(&sold) {
        return Err(Error::validation(
            "quantity",
            format!("commit 1 to {} units of this hold", hold.quantity),
        ));
    }
    Ok(HoldEnd {
        status: HoldStatus::Committed,
        unhold: hold.quantity,
        sold,
    })
}

pub fn release(hold: &Hold) -> Result<HoldEnd, Error> {
    if hold.status != HoldStatus::Pending {
        return Err(already_ended(hold));
    }
    Ok(HoldEnd {
        status: HoldStatus::Released,
        unhold: hold.quantity,
        sold: 0,
    })
}

/// Expires a pending hold whose deadline has passed; `None` if it should not expire (yet).
pub fn expire(hold: &Hold, now: Timestamp) -> Option<HoldEnd> {
    (hold.status == HoldStatus::Pending && now >= hold.expires_at).then_some(HoldEnd {
        status: HoldStatus::Expired,
        unhold: hold.quantity,
        sold: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hold(quantity: i64, expires_in_ms: i64) -> Hold {
        let now = Timestamp::now();
        Hold {
            id: "hld_1".into(),
            sku: "S".into(),
            location: "L".into(),
            quantity,
            purpose: HoldPurpose::Cart,
            owner_ref: "cart_1".into(),
            owner: HoldOwner::Cart,
            created_by: None,
            channel: None,
            status: HoldStatus::Pending,
            committed_quantity: 0,
            expires_at: Timestamp::from_unix_ms(now.unix_ms() + expires_in_ms),
            created_at: now,
            ended_at: None,
        }
    }

    #[test]
    fn partial_commit_releases_the_rest() {
        let end = commit(&hold(5, 60_000), Some(3), Timestamp::now()).unwrap();
        assert_eq!(
            end,
            HoldEnd {
                status: HoldStatus::Committed,
                unhold: 5,
                sold: 3
            }
        );
        assert!(commit(&hold(5, 60_000), Some(6), Timestamp::now()).is_err());
        assert!(commit(&hold(5, 60_000), Some(0), Timestamp::now()).is_err());
    }

    #[test]
    fn expired_holds_cannot_be_committed_but_expire() {
        let h = hold(2, -1);
        assert_eq!(
            commit(&h, None, Timestamp::now()).unwrap_err().details["status"],
            "expired"
        );
        assert_eq!(
            expire(&h, Timestamp::now()).unwrap().status,
            HoldStatus::Expired
        );
        assert!(expire(&hold(2, 60_000), Timestamp::now()).is_none());
    }

    #[test]
    fn configured_lifetimes() {
        let ttls = HoldTtls {
            reserve_s: 24 * 3600,
            ..HoldTtls::default()
        }
        .validate()
        .unwrap();
        assert_eq!(ttls.for_purpose(HoldPurpose::Reserve), 86_400);
        assert_eq!(ttls.for_purpose(HoldPurpose::Cart), 900);
        assert!(
            HoldTtls {
                cart_s: 0,
                ..HoldTtls::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn lifetimes() {
        let now = Timestamp::now();
        let reserve = new_hold_expiry(1, HoldPurpose::Reserve, None, now).unwrap();
        assert_eq!(reserve.unix_ms() - now.unix_ms(), 48 * 3600 * 1000);
        assert!(new_hold_expiry(0, HoldPurpose::Cart, None, now).is_err());
        assert!(new_hold_expiry(1, HoldPurpose::Cart, Some(0), now).is_err());
        assert!(new_hold_expiry(1, HoldPurpose::Cart, Some(MAX_TTL_S + 1), now).is_err());
    }

    proptest! {
        /// Whatever sequence of endings is tried, a hold ends exactly once.
        #[test]
        fn a_hold_ends_exactly_once(actions in proptest::collection::vec(0u8..3, 1..8)) {
            let mut h = hold(3, 60_000);
            let mut endings = 0;
            for a in actions {
                let now = Timestamp::now();
                let outcome = match a {
                    0 => commit(&h, None, now).ok(),
                    1 => release(&h).ok(),
                    _ => expire(&h, Timestamp::from_unix_ms(now.unix_ms() + 120_000)),
                };
                if let Some(end) = outcome {
                    endings += 1;
                    h.status = end.status;
                }
            }
            prop_assert_eq!(endings, 1);
        }
    }
}
