//! Delivery: where a parcel goes and what sending it costs.
//!
//! A [`PostalAddress`] is validated and normalised once (trimmed, one space between words,
//! country and postal code upper-cased, the postal code checked against the country's
//! format where it is known). A [`ShippingMethod`] is offered to some channels, for some
//! destination countries, in one currency: standard or express to a home address, or to a
//! store for collection. Its [`Rate`] is a flat fee or a fee per weight band, free at or
//! above a threshold of goods (after discounts); its [`Promise`] counts business days
//! (Monday to Friday) from the day the order is taken, the next one past the cut-off time.

use std::collections::BTreeSet;

use kernel::{Currency, Error, Timestamp};
use serde::{Deserialize, Serialize};

/// A postal address a parcel can be sent to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PostalAddress {
    /// Who receives it.
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub postal_code: String,
    pub city: String,
    /// ISO 3166-1 alpha-2, e.g. `FR`.
    pub country: String,
    /// For the carrier: `+` and 8 to 15 digits.
    pub phone: Option<String>,
}

/// Trims and collapses inner whitespace.
fn tidy(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn required(field: &str, value: &str, max: usize) -> Result<String, Error> {
    kernel::text::bounded(field, &tidy(value), 1, max)
}

/// Validates an ISO 3166-1 alpha-2 country code, upper-casing it.
pub fn validate_country(field: &str, country: &str) -> Result<String, Error> {
    let c = country.trim().to_ascii_uppercase();
    if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
        return Err(Error::validation(
            field,
            "an ISO 3166-1 alpha-2 country code, e.g. `FR`",
        ));
    }
    Ok(c)
}

/// The postal code formats checked per country: `9` a digit, `A` a letter, others literal.
const POSTAL_FORMATS: &[(&str, &[&str])] = &[
    ("FR", &["99999"]),
    ("DE", &["99999"]),
    ("ES", &["99999"]),
    ("IT", &["99999"]),
    ("MC", &["99999"]),
    ("BE", &["9999"]),
    ("LU", &["9999"]),
    ("AT", &["9999"]),
    ("CH", &["9999"]),
    ("DK", &["9999"]),
    ("NL", &["9999 AA"]),
    ("PT", &["9999-999"]),
    ("PL", &["99-999"]),
    ("US", &["99999", "99999-9999"]),
];

fn matches_format(code: &str, format: &str) -> bool {
    code.len() == format.len()
        && code.chars().zip(format.chars()).all(|(c, f)| match f {
            '9' => c.is_ascii_digit(),
            'A' => c.is_ascii_uppercase(),
            _ => c == f,
        })
}

/// Validates a postal code for `country`: its format where known, else 2 to 10 letters,
/// digits, spaces or `-`.
pub fn validate_postal_code(field: &str, country: &str, code: &str) -> Result<String, Error> {
    let code = tidy(code).to_ascii_uppercase();
    let ok = match POSTAL_FORMATS.iter().find(|(c, _)| *c == country) {
        Some((_, formats)) => formats.iter().any(|f| matches_format(&code, f)),
        None => {
            (2..=10).contains(&code.len())
                && code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
        }
    };
    if !ok {
        return Err(Error::validation(
            field,
            format!("`{code}` is not a postal code of {country}"),
        ));
    }
    Ok(code)
}

impl PostalAddress {
    /// The address normalised, or the first field that is wrong (named under `field`).
    pub fn validate(&self, field: &str) -> Result<PostalAddress, Error> {
        let at = |f: &str| format!("{field}.{f}");
        let country = validate_country(&at("country"), &self.country)?;
        let line2 = kernel::text::optional(
            &at("line2"),
            self.line2.as_deref().map(tidy).as_deref(),
            100,
        )?;
        let phone = match self
            .phone
            .as_deref()
            .map(|p| p.replace([' ', '.', '-'], ""))
        {
            Some(p) if p.is_empty() => None,
            Some(p) => {
                let digits = p.strip_prefix('+').unwrap_or("");
                if !(8..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit())
                {
                    return Err(Error::validation(
                        &at("phone"),
                        "an international number: `+` and 8 to 15 digits",
                    ));
                }
                Some(p)
            }
            None => None,
        };
        Ok(PostalAddress {
            name: required(&at("name"), &self.name, 100)?,
            line1: required(&at("line1"), &self.line1, 100)?,
            line2,
            postal_code: validate_postal_code(&at("postal_code"), &country, &self.postal_code)?,
            city: required(&at("city"), &self.city, 80)?,
            country,
            phone,
        })
    }

    /// The address with everything that names or locates the person removed (GDPR
    /// erasure): only the country is kept, which the order's VAT was decided by.
    pub fn erased(&self) -> PostalAddress {
        PostalAddress {
            name: "[erased]".into(),
            line1: "[erased]".into(),
            line2: None,
            postal_code: String::new(),
            city: "[erased]".into(),
            country: self.country.clone(),
            phone: None,
        }
    }
}

/// Where a method takes the parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    /// To the customer's address.
    Standard,
    /// To the customer's address, sooner.
    Express,
    /// To a store, where the customer collects it.
    ShipToStore,
}

impl MethodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MethodKind::Standard => "standard",
            MethodKind::Express => "express",
            MethodKind::ShipToStore => "ship_to_store",
        }
    }

    pub fn parse(text: &str) -> Option<MethodKind> {
        [
            MethodKind::Standard,
            MethodKind::Express,
            MethodKind::ShipToStore,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// One weight band: parcels up to `up_to_grams` cost `amount_minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WeightBand {
    pub up_to_grams: i64,
    pub amount_minor: i64,
}

/// What a method charges: a flat fee or one per weight band, free from a threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rate {
    /// The fee whatever the weight (exclusive with `weight_bands`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flat_minor: Option<i64>,
    /// Fees by parcel weight, bands in increasing weight; a heavier parcel is not taken.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weight_bands: Vec<WeightBand>,
    /// No fee when the goods cost at least this, after discounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_above_minor: Option<i64>,
}

/// How long delivery takes, in business days (Monday to Friday).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Promise {
    pub min_days: i64,
    pub max_days: i64,
    /// Orders taken after this local time (`HH:MM`) count from the next business day.
    pub cutoff: Option<String>,
    /// The IANA time zone the cut-off and the days are counted in.
    pub time_zone: String,
}

/// A way of sending an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShippingMethod {
    pub code: String,
    pub name: String,
    pub kind: MethodKind,
    /// The channels it is offered on (empty: all).
    pub channels: BTreeSet<String>,
    /// The destination countries it serves (empty: all).
    pub countries: BTreeSet<String>,
    pub currency: Currency,
    pub rate: Rate,
    pub promise: Promise,
    pub active: bool,
    /// Methods are offered in this order; the first offered is the default.
    pub position: i64,
}

/// The dates a delivery is promised between (local dates, `YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeliveryWindow {
    pub earliest: String,
    pub latest: String,
}

/// What a method would charge for a parcel, and when it would arrive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Quote {
    pub fee_minor: i64,
    pub window: DeliveryWindow,
}

/// Why a method cannot take a parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotOffered {
    Inactive,
    Channel,
    Country,
    Currency,
    TooHeavy { max_grams: i64 },
}

impl NotOffered {
    pub fn reason(&self) -> String {
        match self {
            NotOffered::Inactive => "the method is not offered now".into(),
            NotOffered::Channel => "the method is not offered on this channel".into(),
            NotOffered::Country => "the method does not deliver to this country".into(),
            NotOffered::Currency => "the method charges in another currency".into(),
            NotOffered::TooHeavy { max_grams } => {
                format!("the parcel weighs more than the method takes ({max_grams} g)")
            }
        }
    }
}

/// A parcel to quote for.
#[derive(Debug, Clone, Copy)]
pub struct Parcel<'a> {
    pub channel: &'a str,
    pub country: &'a str,
    pub currency: Currency,
    /// The goods' price after discounts, tax included as shown.
    pub goods_minor: i64,
    pub weight_grams: i64,
}

impl ShippingMethod {
    /// The fee and the delivery window for `parcel` taken at `at`, or why not.
    pub fn quote(&self, parcel: Parcel<'_>, at: Timestamp) -> Result<Quote, NotOffered> {
        if !self.active {
            return Err(NotOffered::Inactive);
        }
        if !self.channels.is_empty() && !self.channels.contains(parcel.channel) {
            return Err(NotOffered::Channel);
        }
        if !self.countries.is_empty() && !self.countries.contains(parcel.country) {
            return Err(NotOffered::Country);
        }
        if self.currency != parcel.currency {
            return Err(NotOffered::Currency);
        }
        let fee = self.rate.fee(parcel.goods_minor, parcel.weight_grams)?;
        Ok(Quote {
            fee_minor: fee,
            window: self.promise.window(at),
        })
    }

    /// The method, checked: a code, a name, a rate that is one of flat or banded with
    /// bands in increasing weight, non-negative amounts, `min_days <= max_days`.
    pub fn validate(self) -> Result<ShippingMethod, Error> {
        kernel::text::code(
            "code",
            &self.code,
            1,
            40,
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-',
            "a-z, 0-9, `_` or `-`",
        )?;
        let name = required("name", &self.name, 80)?;
        self.rate.validate()?;
        self.promise.validate()?;
        let countries = self
            .countries
            .iter()
            .map(|c| validate_country("countries", c))
            .collect::<Result<_, _>>()?;
        Ok(ShippingMethod {
            name,
            countries,
            ..self
        })
    }
}

impl Rate {
    /// The fee for goods worth `goods_minor` weighing `weight_grams`.
    pub fn fee(&self, goods_minor: i64, weight_grams: i64) -> Result<i64, NotOffered> {
        let charged = match (self.flat_minor, self.weight_bands.as_slice()) {
            (Some(flat), _) => flat,
            (None, bands) => bands
                .iter()
                .find(|b| weight_grams <= b.up_to_grams)
                .map(|b| b.amount_minor)
                .ok_or(NotOffered::TooHeavy {
                    max_grams: bands.last().map_or(0, |b| b.up_to_grams),
                })?,
        };
        Ok(match self.free_above_minor {
            Some(threshold) if goods_minor >= threshold => 0,
            _ => charged,
        })
    }

    fn validate(&self) -> Result<(), Error> {
        match (self.flat_minor, self.weight_bands.is_empty()) {
            (Some(_), false) | (None, true) => {
                return Err(Error::validation(
                    "rate",
                    "a rate is `flat_minor` or `weight_bands`, one of them",
                ));
            }
            _ => {}
        }
        let amounts = self
            .flat_minor
            .iter()
            .chain(self.free_above_minor.iter())
            .chain(self.weight_bands.iter().map(|b| &b.amount_minor));
        if amounts.into_iter().any(|a| *a < 0) {
            return Err(Error::validation("rate", "amounts are never negative"));
        }
        let increasing = self
            .weight_bands
            .windows(2)
            .all(|w| w[0].up_to_grams < w[1].up_to_grams);
        if !increasing || self.weight_bands.iter().any(|b| b.up_to_grams <= 0) {
            return Err(Error::validation(
                "rate.weight_bands",
                "bands go up in weight, each above 0 g",
            ));
        }
        Ok(())
    }
}

impl Promise {
    fn validate(&self) -> Result<(), Error> {
        if self.min_days < 0 || self.max_days < self.min_days || self.max_days > 60 {
            return Err(Error::validation(
                "promise",
                "0 <= min_days <= max_days <= 60",
            ));
        }
        jiff::tz::TimeZone::get(&self.time_zone).map_err(|_| {
            Error::validation(
                "promise.time_zone",
                format!("`{}` is not an IANA time zone", self.time_zone),
            )
        })?;
        if let Some(c) = &self.cutoff {
            cutoff_time(c).ok_or_else(|| {
                Error::validation("promise.cutoff", "a local time `HH:MM`, e.g. `14:00`")
            })?;
        }
        Ok(())
    }

    /// The delivery window of an order taken at `at`.
    pub fn window(&self, at: Timestamp) -> DeliveryWindow {
        let tz = jiff::tz::TimeZone::get(&self.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let local = jiff::Timestamp::from_millisecond(at.unix_ms())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned(tz)
            .datetime();
        let past_cutoff = self
            .cutoff
            .as_deref()
            .and_then(cutoff_time)
            .is_some_and(|c| local.time() >= c);
        let mut start = local.date();
        if past_cutoff || !is_business_day(start) {
            start = next_business_day(start);
        }
        DeliveryWindow {
            earliest: add_business_days(start, self.min_days).to_string(),
            latest: add_business_days(start, self.max_days).to_string(),
        }
    }
}

fn cutoff_time(text: &str) -> Option<jiff::civil::Time> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    (h.to_string().len() <= 2 && m.to_string().len() <= 2)
        .then(|| jiff::civil::Time::new(h, m, 0, 0).ok())
        .flatten()
}

fn is_business_day(d: jiff::civil::Date) -> bool {
    !matches!(
        d.weekday(),
        jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
    )
}

fn next_business_day(d: jiff::civil::Date) -> jiff::civil::Date {
    let mut next = d.tomorrow().unwrap_or(d);
    while !is_business_day(next) {
        next = next.tomorrow().unwrap_or(next);
    }
    next
}

fn add_business_days(start: jiff::civil::Date, days: i64) -> jiff::civil::Date {
    (0..days).fold(start, |d, _| next_business_day(d))
}

/// What an order's delivery is: the method, where to, the fee and its discount and VAT, the
/// window promised, and how much of the fee went back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrderShipping {
    pub method: String,
    pub method_name: String,
    pub kind: MethodKind,
    pub address: PostalAddress,
    /// The store a ship-to-store parcel goes to.
    pub store: Option<String>,
    pub fee_minor: i64,
    /// Off the fee, by promotions.
    pub discount_minor: i64,
    pub tax_rate_bp: i64,
    pub tax_minor: i64,
    pub tax_added_minor: i64,
    pub window: DeliveryWindow,
}

impl OrderShipping {
    /// What the customer paid for delivery.
    pub fn paid_minor(&self) -> i64 {
        self.fee_minor - self.discount_minor + self.tax_added_minor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address() -> PostalAddress {
        PostalAddress {
            name: "  Léa   Martin ".into(),
            line1: "12 rue de la République".into(),
            line2: Some(" ".into()),
            postal_code: "69002".into(),
            city: "Lyon".into(),
            country: "fr".into(),
            phone: Some("+33 6 12 34 56 78".into()),
        }
    }

    #[test]
    fn addresses_are_normalised_and_checked_per_country() {
        let a = address().validate("ship_to.address").unwrap();
        assert_eq!(
            (a.name.as_str(), a.country.as_str(), a.line2, a.phone),
            ("Léa Martin", "FR", None, Some("+33612345678".into()))
        );
        let wrong = PostalAddress {
            postal_code: "6900".into(),
            ..address()
        };
        let e = wrong.validate("a").unwrap_err();
        assert_eq!(e.details["field"], "a.postal_code");
        let nl = PostalAddress {
            postal_code: "1012 ab".into(),
            country: "NL".into(),
            ..address()
        };
        assert_eq!(nl.validate("a").unwrap().postal_code, "1012 AB");
        let no_line = PostalAddress {
            line1: " ".into(),
            ..address()
        };
        assert_eq!(
            no_line.validate("a").unwrap_err().details["field"],
            "a.line1"
        );
    }

    fn method(rate: Rate) -> ShippingMethod {
        ShippingMethod {
            code: "standard".into(),
            name: "Colissimo".into(),
            kind: MethodKind::Standard,
            channels: BTreeSet::new(),
            countries: ["FR".to_owned()].into(),
            currency: Currency::parse("EUR").unwrap(),
            rate,
            promise: Promise {
                min_days: 2,
                max_days: 3,
                cutoff: Some("14:00".into()),
                time_zone: "Europe/Paris".into(),
            },
            active: true,
            position: 0,
        }
    }

    fn parcel(goods: i64, grams: i64) -> Parcel<'static> {
        Parcel {
            channel: "web",
            country: "FR",
            currency: Currency::parse("EUR").unwrap(),
            goods_minor: goods,
            weight_grams: grams,
        }
    }

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn free_above_the_threshold_and_weight_bands() {
        let banded = method(Rate {
            flat_minor: None,
            weight_bands: vec![
                WeightBand {
                    up_to_grams: 1000,
                    amount_minor: 490,
                },
                WeightBand {
                    up_to_grams: 5000,
                    amount_minor: 890,
                },
            ],
            free_above_minor: Some(5000),
        });
        let now = at("2026-12-07T09:00:00Z");
        assert_eq!(banded.quote(parcel(4999, 800), now).unwrap().fee_minor, 490);
        assert_eq!(
            banded.quote(parcel(4999, 1001), now).unwrap().fee_minor,
            890
        );
        assert_eq!(banded.quote(parcel(5000, 1001), now).unwrap().fee_minor, 0);
        assert_eq!(
            banded.quote(parcel(100, 5001), now),
            Err(NotOffered::TooHeavy { max_grams: 5000 })
        );
        let de = Parcel {
            country: "DE",
            ..parcel(100, 100)
        };
        assert_eq!(banded.quote(de, now), Err(NotOffered::Country));
    }

    #[test]
    fn the_promise_counts_business_days_from_the_cutoff() {
        let m = method(Rate {
            flat_minor: Some(490),
            weight_bands: vec![],
            free_above_minor: None,
        });
        // Monday 7 December, 10:00 in Paris: counted from Monday.
        let w = m.promise.window(at("2026-12-07T09:00:00Z"));
        assert_eq!(
            (w.earliest.as_str(), w.latest.as_str()),
            ("2026-12-09", "2026-12-10")
        );
        // Monday 15:00 in Paris, past the cut-off: from Tuesday.
        let w = m.promise.window(at("2026-12-07T14:00:00Z"));
        assert_eq!(w.earliest, "2026-12-10");
        // Friday past the cut-off: from Monday, two business days later is Wednesday.
        let w = m.promise.window(at("2026-12-11T16:00:00Z"));
        assert_eq!(
            (w.earliest.as_str(), w.latest.as_str()),
            ("2026-12-16", "2026-12-17")
        );
    }

    #[test]
    fn a_rate_is_flat_or_banded_never_both_or_neither() {
        let both = method(Rate {
            flat_minor: Some(1),
            weight_bands: vec![WeightBand {
                up_to_grams: 1,
                amount_minor: 1,
            }],
            free_above_minor: None,
        });
        assert!(both.validate().is_err());
        let neither = method(Rate {
            flat_minor: None,
            weight_bands: vec![],
            free_above_minor: None,
        });
        assert!(neither.validate().is_err());
        let decreasing = method(Rate {
            flat_minor: None,
            weight_bands: vec![
                WeightBand {
                    up_to_grams: 2,
                    amount_minor: 1,
                },
                WeightBand {
                    up_to_grams: 1,
                    amount_minor: 1,
                },
            ],
            free_above_minor: None,
        });
        assert!(decreasing.validate().is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A fee is never negative, and more goods never cost more to ship.
        #[test]
        fn fees_never_rise_with_the_goods(
            flat in 0i64..10_000, threshold in 0i64..100_000,
            a in 0i64..200_000, b in 0i64..200_000,
        ) {
            let rate = Rate { flat_minor: Some(flat), weight_bands: vec![], free_above_minor: Some(threshold) };
            let (lo, hi) = (a.min(b), a.max(b));
            let (f_lo, f_hi) = (rate.fee(lo, 0).unwrap(), rate.fee(hi, 0).unwrap());
            prop_assert!(f_hi >= 0 && f_hi <= f_lo);
        }

        /// The window never starts before the order, and earliest <= latest.
        #[test]
        fn windows_are_ordered(ms in 1_700_000_000_000i64..1_900_000_000_000, min in 0i64..10, extra in 0i64..10) {
            let p = Promise { min_days: min, max_days: min + extra, cutoff: Some("12:00".into()), time_zone: "Europe/Paris".into() };
            let w = p.window(Timestamp::from_unix_ms(ms));
            prop_assert!(w.earliest <= w.latest);
            let day = Timestamp::from_unix_ms(ms - 86_400_000).to_text();
            prop_assert!(w.earliest.as_str() >= &day[..10]);
        }
    }
}
