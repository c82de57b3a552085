//! Splitting an amount over lines in whole minor units, and the share of a line's paid
//! amount a partial return gets back.

/// Splits `amount` over `weights` in proportion, in whole units: each part is the floor of
/// its exact share, and the units left over go to the largest remainders (ties to the
/// earlier weight). The parts add up to `amount`; a zero weight gets nothing. With no weight
/// at all, nothing is split (every part is 0).
pub fn split_pro_rata(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|&w| i128::from(w.max(0))).sum();
    if total == 0 || amount <= 0 {
        return vec![0; weights.len()];
    }
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let exact = i128::from(amount) * i128::from(w.max(0));
        parts.push((exact / total) as i64);
        remainders.push((exact % total, i));
    }
    let mut left = amount - parts.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        if weights[i] > 0 {
            parts[i] += 1;
            left -= 1;
        }
    }
    parts
}

/// What `units` more returned units of a line get back, when `paid` was paid for its
/// `quantity` units and `already` were returned before: the difference of the floors of the
/// paid share, so the refunds of every unit add up to exactly what was paid.
pub fn refund_share(paid: i64, quantity: i64, already: i64, units: i64) -> i64 {
    if quantity <= 0 {
        return 0;
    }
    let share = |n: i64| {
        (i128::from(paid) * i128::from(n.clamp(0, quantity)) / i128::from(quantity)) as i64
    };
    share(already + units) - share(already)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_euro_over_three_equal_lines() {
        assert_eq!(split_pro_rata(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(split_pro_rata(100, &[0, 0]), vec![0, 0]);
        assert_eq!(split_pro_rata(7, &[0, 5, 5]), vec![0, 4, 3]);
    }

    #[test]
    fn returning_units_one_by_one_refunds_what_was_paid() {
        // 3 units paid 1000 together: 333, 333, 334.
        let refunds: Vec<i64> = (0..3).map(|k| refund_share(1000, 3, k, 1)).collect();
        assert_eq!(refunds.iter().sum::<i64>(), 1000);
        assert_eq!(refund_share(1000, 3, 0, 3), 1000);
    }

    proptest! {
        #[test]
        fn parts_add_up_and_stay_in_proportion(
            amount in 0i64..10_000_000,
            weights in prop::collection::vec(0i64..1_000_000, 1..12),
        ) {
            let parts = split_pro_rata(amount, &weights);
            let total: i64 = weights.iter().sum();
            if total > 0 {
                prop_assert_eq!(parts.iter().sum::<i64>(), amount);
            }
            for (p, w) in parts.iter().zip(&weights) {
                let exact = amount as f64 * *w as f64 / total.max(1) as f64;
                prop_assert!((*p as f64 - exact).abs() < 1.0 + 1e-9);
                if *w == 0 { prop_assert_eq!(*p, 0); }
            }
        }

        #[test]
        fn refunds_never_exceed_what_was_paid(
            paid in 0i64..1_000_000,
            quantity in 1i64..50,
            steps in prop::collection::vec(1i64..5, 1..20),
        ) {
            let mut already = 0;
            let mut refunded = 0;
            for units in steps {
                let units = units.min(quantity - already);
                if units == 0 { break; }
                refunded += refund_share(paid, quantity, already, units);
                already += units;
            }
            prop_assert!(refunded <= paid);
            if already == quantity { prop_assert_eq!(refunded, paid); }
        }
    }
}
