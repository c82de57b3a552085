//! VAT: a rate per tax category and country, prices that include it (France) or not (other
//! markets), the tax of each line rounded on that line, and the sums per rate.
//!
//! Rounding is per line, half up, on the line's amount after discounts: the tax of a line
//! priced tax-inclusive at `g` with rate `r` (basis points) is `round(g × r / (10000 + r))`;
//! tax-exclusive at `n` it is `round(n × r / 10000)`. A receipt's tax per rate is the sum of
//! its lines' (so the per-rate sums always add up to the total tax), and a refund's tax is
//! the tax of the refunded amount at the line's rate.

use std::collections::BTreeMap;

use kernel::Error;
use serde::{Deserialize, Serialize};

/// Whether prices include the tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceBasis {
    /// Prices include VAT (consumer prices in the EU).
    Inclusive,
    /// VAT is added to prices.
    Exclusive,
}

/// The tax category a product has unless it names one.
pub const STANDARD: &str = "standard";

/// A country's rates by tax category, and how its prices are shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaxTable {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub basis: PriceBasis,
    /// Category → rate in basis points (2000 = 20 %).
    pub rates: BTreeMap<String, i64>,
}

impl TaxTable {
    /// France: 20 % standard, 10 % intermediate, 5.5 % reduced, 2.1 % super-reduced;
    /// consumer prices include VAT.
    pub fn france() -> TaxTable {
        let rates = [
            (STANDARD, 2000),
            ("intermediate", 1000),
            ("reduced", 550),
            ("super_reduced", 210),
        ];
        TaxTable {
            country: "FR".into(),
            basis: PriceBasis::Inclusive,
            rates: rates.iter().map(|(c, r)| (c.to_string(), *r)).collect(),
        }
    }

    /// The rate of a category, or why there is none.
    pub fn rate_of(&self, category: &str) -> Result<i64, Error> {
        self.rates.get(category).copied().ok_or_else(|| {
            Error::validation(
                "tax_category",
                format!(
                    "{} has no rate for the tax category `{category}`",
                    self.country
                ),
            )
        })
    }

    pub fn validate(&self) -> Result<(), Error> {
        let c = &self.country;
        if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
            return Err(Error::validation(
                "country",
                "an ISO 3166-1 alpha-2 code, e.g. FR",
            ));
        }
        for (category, rate) in &self.rates {
            if category.is_empty() || !(0..=10_000).contains(rate) {
                return Err(Error::validation(
                    "rates",
                    "each category has a rate from 0 to 10000 basis points",
                )
                .with("category", category.clone()));
            }
        }
        Ok(())
    }
}

/// One amount split into its net and tax parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Taxed {
    pub rate_bp: i64,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
}

fn round_div(numerator: i128, denominator: i128) -> i64 {
    ((numerator + denominator / 2) / denominator) as i64
}

/// The tax in (inclusive) or on (exclusive) `amount_minor` at `rate_bp`, rounded half up.
pub fn tax_of(amount_minor: i64, rate_bp: i64, basis: PriceBasis) -> Taxed {
    let amount = i128::from(amount_minor.max(0));
    let rate = i128::from(rate_bp.clamp(0, 10_000));
    match basis {
        PriceBasis::Inclusive => {
            let tax = round_div(amount * rate, 10_000 + rate);
            Taxed {
                rate_bp,
                net_minor: amount_minor.max(0) - tax,
                tax_minor: tax,
                gross_minor: amount_minor.max(0),
            }
        }
        PriceBasis::Exclusive => {
            let tax = round_div(amount * rate, 10_000);
            Taxed {
                rate_bp,
                net_minor: amount_minor.max(0),
                tax_minor: tax,
                gross_minor: amount_minor.max(0) + tax,
            }
        }
    }
}

/// The sums per rate, lowest rate first.
pub fn by_rate(lines: impl IntoIterator<Item = Taxed>) -> Vec<Taxed> {
    let mut sums: BTreeMap<i64, Taxed> = BTreeMap::new();
    for t in lines {
        let s = sums.entry(t.rate_bp).or_insert(Taxed {
            rate_bp: t.rate_bp,
            net_minor: 0,
            tax_minor: 0,
            gross_minor: 0,
        });
        s.net_minor += t.net_minor;
        s.tax_minor += t.tax_minor;
        s.gross_minor += t.gross_minor;
    }
    sums.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn french_rates_on_a_tax_inclusive_price() {
        // 120.00 € at 20 % holds 20.00 € of VAT.
        let t = tax_of(12_000, 2000, PriceBasis::Inclusive);
        assert_eq!(
            (t.net_minor, t.tax_minor, t.gross_minor),
            (10_000, 2_000, 12_000)
        );
        // 10.55 € at 5.5 %: 0.55 €.
        assert_eq!(tax_of(1_055, 550, PriceBasis::Inclusive).tax_minor, 55);
        // 99.99 € at 20 %: 16.665 rounds half up to 16.67.
        assert_eq!(tax_of(9_999, 2000, PriceBasis::Inclusive).tax_minor, 1_667);
        let fr = TaxTable::france();
        assert_eq!(fr.rate_of("super_reduced").unwrap(), 210);
        assert!(fr.rate_of("luxury").is_err());
    }

    #[test]
    fn tax_exclusive_prices_add_it() {
        let t = tax_of(10_000, 2000, PriceBasis::Exclusive);
        assert_eq!(
            (t.net_minor, t.tax_minor, t.gross_minor),
            (10_000, 2_000, 12_000)
        );
    }

    proptest! {
        #[test]
        fn the_parts_add_up_and_the_rates_sum_to_the_total(
            lines in prop::collection::vec((0i64..10_000_000, prop::sample::select(vec![0i64, 210, 550, 1000, 2000])), 0..20),
            exclusive in any::<bool>(),
        ) {
            let basis = if exclusive { PriceBasis::Exclusive } else { PriceBasis::Inclusive };
            let taxed: Vec<Taxed> = lines.iter().map(|(a, r)| tax_of(*a, *r, basis)).collect();
            for t in &taxed {
                prop_assert_eq!(t.net_minor + t.tax_minor, t.gross_minor);
                prop_assert!(t.tax_minor >= 0 && t.tax_minor <= t.gross_minor);
                // Within half a minor unit of the exact tax.
                let exact = match basis {
                    PriceBasis::Inclusive => t.gross_minor as f64 * t.rate_bp as f64 / (10_000.0 + t.rate_bp as f64),
                    PriceBasis::Exclusive => t.net_minor as f64 * t.rate_bp as f64 / 10_000.0,
                };
                prop_assert!((t.tax_minor as f64 - exact).abs() <= 0.5 + 1e-9);
            }
            let sums = by_rate(taxed.iter().copied());
            prop_assert_eq!(
                sums.iter().map(|s| s.tax_minor).sum::<i64>(),
                taxed.iter().map(|t| t.tax_minor).sum::<i64>()
            );
        }
    }
}
