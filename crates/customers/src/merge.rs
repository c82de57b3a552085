//! Identity resolution: which profiles merge when identifiers are linked, and which survives.
//!
//! When an event or a sign-in names identifiers that point to several profiles, those profiles
//! are one person seen through several channels. The **survivor rule**: the oldest profile
//! (earliest `created_at`, then the smallest id) survives; the others are absorbed into it in
//! that same order, and everything they own (identities, events, consents, interactions,
//! carts, orders) moves to the survivor. Because the rule depends only on the profiles and
//! not on the order links arrive in, any order of the same links yields the same profiles.
//!
//! **Guard rails**: two profiles that each hold a verified e-mail, or each hold a loyalty card,
//! are two people who shared a device or a household phone: they are never merged
//! automatically; the pair is flagged for review instead. A merge that would give a profile
//! more identities than the cap is flagged too (identity explosion, e.g. a shared kiosk id).
//! Guard rails make the result depend on which pairs meet first, so order independence holds
//! for links that trip no guard rail. The same rail applies to identifiers new to Relais: a
//! verified e-mail (or a loyalty card) named with an identifier of a profile that already
//! holds one is another person on a shared device — the store gives them a profile of their
//! own, flagged with the other.

use std::collections::BTreeSet;

use kernel::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Identifier, IdentityKind};

/// What the planner needs to know about a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSummary {
    pub id: String,
    pub created_at: Timestamp,
    pub verified_emails: BTreeSet<String>,
    pub loyalty_cards: BTreeSet<String>,
    pub identity_count: usize,
}

impl ProfileSummary {
    fn absorb(&mut self, other: &ProfileSummary) {
        self.verified_emails
            .extend(other.verified_emails.iter().cloned());
        self.loyalty_cards
            .extend(other.loyalty_cards.iter().cloned());
        self.identity_count += other.identity_count;
    }

    /// Why `self` and `other` must not be merged automatically, if they must not.
    fn conflict(&self, other: &ProfileSummary, cap: usize) -> Option<ReviewReason> {
        if !self.verified_emails.is_empty() && !other.verified_emails.is_empty() {
            Some(ReviewReason::DifferentVerifiedEmails)
        } else if !self.loyalty_cards.is_empty() && !other.loyalty_cards.is_empty() {
            Some(ReviewReason::DifferentLoyaltyCards)
        } else if self.identity_count + other.identity_count > cap {
            Some(ReviewReason::IdentityCap)
        } else {
            None
        }
    }
}

/// Whether identifiers new to Relais (`(identifier, verified)`) could name another person
/// than a profile: only a verified e-mail or a loyalty card can. Lets storage skip reading
/// the profile's summary for everything else.
pub fn could_name_another_person(unknown: &[&(Identifier, bool)]) -> bool {
    unknown.iter().any(|(id, verified)| {
        (*verified && id.kind == IdentityKind::Email) || id.kind == IdentityKind::LoyaltyCard
    })
}

/// Whether identifiers new to Relais, named together with the profile summarised by `held`,
/// belong to another person: the guard rail between two profiles ([`ProfileSummary`]'s
/// conflict: two verified e-mails, two loyalty cards), applied to the newcomers as if they
/// were a profile of their own — one rule, in one place.
pub fn names_another_person(
    held: &ProfileSummary,
    unknown: &[&(Identifier, bool)],
) -> Option<ReviewReason> {
    let newcomer = ProfileSummary {
        id: String::new(),
        created_at: held.created_at,
        verified_emails: unknown
            .iter()
            .filter(|(id, verified)| *verified && id.kind == IdentityKind::Email)
            .map(|(id, _)| id.value.clone())
            .collect(),
        loyalty_cards: unknown
            .iter()
            .filter(|(id, _)| id.kind == IdentityKind::LoyaltyCard)
            .map(|(id, _)| id.value.clone())
            .collect(),
        identity_count: 0,
    };
    // The identity cap is the link's own business (it counts what is attached), not this rail's.
    held.conflict(&newcomer, usize::MAX)
}

/// Why a pair of profiles waits for a person to decide.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReviewReason {
    DifferentVerifiedEmails,
    DifferentLoyaltyCards,
    IdentityCap,
}

impl ReviewReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewReason::DifferentVerifiedEmails => "different_verified_emails",
            ReviewReason::DifferentLoyaltyCards => "different_loyalty_cards",
            ReviewReason::IdentityCap => "identity_cap",
        }
    }

    pub fn parse(text: &str) -> Option<ReviewReason> {
        [
            ReviewReason::DifferentVerifiedEmails,
            ReviewReason::DifferentLoyaltyCards,
            ReviewReason::IdentityCap,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// What to do with the profiles a link touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPlan {
    /// The profile the link resolves to; new identifiers join it.
    pub survivor: String,
    /// Profiles merged into the survivor, oldest first.
    pub absorbed: Vec<String>,
    /// Profiles left apart, each flagged with the survivor for review.
    pub reviews: Vec<(String, ReviewReason)>,
}

/// Orders profiles by the survivor rule: oldest first, then smallest id.
pub fn survivor_order(a: &ProfileSummary, b: &ProfileSummary) -> std::cmp::Ordering {
    (a.created_at, &a.id).cmp(&(b.created_at, &b.id))
}

/// Plans a link between `profiles` (distinct, at least one). `cap` bounds the identities of
/// the merged profile.
pub fn plan_link(mut profiles: Vec<ProfileSummary>, cap: usize) -> Option<LinkPlan> {
    profiles.sort_by(survivor_order);
    let mut rest = profiles.into_iter();
    let mut merged = rest.next()?;
    let mut plan = LinkPlan {
        survivor: merged.id.clone(),
        absorbed: Vec::new(),
        reviews: Vec::new(),
    };
    for p in rest {
        match merged.conflict(&p, cap) {
            Some(reason) => plan.reviews.push((p.id, reason)),
            None => {
                merged.absorb(&p);
                plan.absorbed.push(p.id);
            }
        }
    }
    Some(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newcomers_name_another_person_by_the_same_rail_as_profiles() {
        let held = |emails: &[&str], cards: &[&str]| ProfileSummary {
            id: "cus_1".into(),
            created_at: Timestamp::from_unix_ms(0),
            verified_emails: emails.iter().map(|e| e.to_string()).collect(),
            loyalty_cards: cards.iter().map(|c| c.to_string()).collect(),
            identity_count: 3,
        };
        let id = |kind, value: &str| Identifier {
            kind,
            value: value.into(),
        };
        let email = (id(IdentityKind::Email, "b@example.fr"), true);
        let unverified = (id(IdentityKind::Email, "c@example.fr"), false);
        let card = (id(IdentityKind::LoyaltyCard, "ELS2"), false);
        let device = (id(IdentityKind::AppDevice, "d1"), false);
        let cases = [
            (
                held(&["a@example.fr"], &[]),
                vec![&email],
                Some(ReviewReason::DifferentVerifiedEmails),
            ),
            (held(&[], &[]), vec![&email], None),
            (held(&["a@example.fr"], &[]), vec![&unverified], None),
            (
                held(&[], &["ELS1"]),
                vec![&card],
                Some(ReviewReason::DifferentLoyaltyCards),
            ),
            (held(&["a@example.fr"], &["ELS1"]), vec![&device], None),
        ];
        for (profile, unknown, expected) in cases {
            assert_eq!(
                names_another_person(&profile, &unknown),
                expected,
                "{unknown:?}"
            );
            if expected.is_some() {
                assert!(could_name_another_person(&unknown));
            }
        }
        assert!(!could_name_another_person(&[&device, &unverified]));
    }
    use crate::identity::{Identifier, IdentityKind};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn profile(id: &str, age: i64) -> ProfileSummary {
        ProfileSummary {
            id: id.into(),
            created_at: Timestamp::from_unix_ms(1_700_000_000_000 + age),
            verified_emails: BTreeSet::new(),
            loyalty_cards: BTreeSet::new(),
            identity_count: 1,
        }
    }

    #[test]
    fn the_oldest_profile_survives_then_the_smallest_id() {
        let plan = plan_link(vec![profile("c", 5), profile("b", 1), profile("a", 5)], 50).unwrap();
        assert_eq!(plan.survivor, "b");
        assert_eq!(plan.absorbed, vec!["a".to_string(), "c".to_string()]);
        assert!(plan.reviews.is_empty());
    }

    #[test]
    fn two_verified_emails_or_two_cards_are_flagged_not_merged() {
        let mut a = profile("a", 1);
        a.verified_emails.insert("a@x.fr".into());
        let mut b = profile("b", 2);
        b.verified_emails.insert("b@x.fr".into());
        let c = profile("c", 3);
        let plan = plan_link(vec![c, b, a.clone()], 50).unwrap();
        assert_eq!(plan.survivor, "a");
        assert_eq!(plan.absorbed, vec!["c".to_string()]);
        assert_eq!(
            plan.reviews,
            vec![("b".to_string(), ReviewReason::DifferentVerifiedEmails)]
        );

        let mut d = profile("d", 1);
        d.loyalty_cards.insert("ELS1".into());
        let mut e = profile("e", 2);
        e.loyalty_cards.insert("ELS2".into());
        let plan = plan_link(vec![e, d], 50).unwrap();
        assert_eq!(plan.reviews[0].1, ReviewReason::DifferentLoyaltyCards);
        assert!(plan.absorbed.is_empty());
    }

    #[test]
    fn the_identity_cap_stops_an_explosion() {
        let mut a = profile("a", 1);
        a.identity_count = 30;
        let mut b = profile("b", 2);
        b.identity_count = 15;
        let mut c = profile("c", 3);
        c.identity_count = 10;
        let plan = plan_link(vec![a, b, c], 50).unwrap();
        assert_eq!(plan.absorbed, vec!["b".to_string()]);
        assert_eq!(
            plan.reviews,
            vec![("c".to_string(), ReviewReason::IdentityCap)]
        );
    }

    /// An in-memory identity graph driven by the planner, as the store drives it with SQL.
    #[derive(Debug, Default, Clone)]
    struct Graph {
        owner: BTreeMap<Identifier, String>,
        profiles: BTreeMap<String, ProfileSummary>,
        events: BTreeMap<String, usize>,
    }

    impl Graph {
        fn link(&mut self, ids: &[Identifier]) {
            let touched: BTreeSet<&String> = ids.iter().filter_map(|i| self.owner.get(i)).collect();
            let summaries = touched.iter().map(|p| self.profiles[*p].clone()).collect();
            let plan = plan_link(summaries, 1000).expect("links touch known identifiers");
            for gone in &plan.absorbed {
                let p = self.profiles.remove(gone).unwrap();
                self.profiles.get_mut(&plan.survivor).unwrap().absorb(&p);
                for owner in self.owner.values_mut().filter(|o| *o == gone) {
                    *owner = plan.survivor.clone();
                }
                let moved = self.events.remove(gone).unwrap_or(0);
                *self.events.entry(plan.survivor.clone()).or_default() += moved;
            }
            *self.events.entry(plan.survivor.clone()).or_default() += 1;
        }

        /// Identifier → survivor: what the outside world can observe.
        fn resolution(&self) -> BTreeMap<Identifier, String> {
            self.owner.clone()
        }
    }

    fn device(n: usize) -> Identifier {
        Identifier {
            kind: IdentityKind::AppDevice,
            value: format!("d{n}"),
        }
    }

    /// `n` profiles, each with one device id, created one millisecond apart.
    fn seeded(n: usize) -> Graph {
        let mut g = Graph::default();
        for i in 0..n {
            let id = format!("cus_{:03}", (i * 7919) % 1000);
            g.owner.insert(device(i), id.clone());
            g.profiles.insert(id.clone(), profile(&id, i as i64));
        }
        g
    }

    proptest! {
        #[test]
        fn any_order_of_the_same_links_gives_the_same_profiles(
            n in 2usize..12,
            links in proptest::collection::vec((0usize..12, 0usize..12), 1..20),
            seed in any::<u64>(),
        ) {
            let links: Vec<(usize, usize)> = links.into_iter().map(|(a, b)| (a % n, b % n)).collect();
            let mut shuffled = links.clone();
            // A deterministic shuffle from the seed (Fisher–Yates with an LCG).
            let mut s = seed;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            let (mut one, mut two) = (seeded(n), seeded(n));
            for (a, b) in &links { one.link(&[device(*a), device(*b)]); }
            for (a, b) in &shuffled { two.link(&[device(*a), device(*b)]); }
            prop_assert_eq!(one.resolution(), two.resolution());
            // No event is lost by merging, and every event sits on a live profile.
            prop_assert_eq!(one.events.values().sum::<usize>(), links.len());
            prop_assert!(one.events.keys().all(|p| one.profiles.contains_key(p)));
            // Each identifier points to exactly one live profile.
            prop_assert!(one.owner.values().all(|p| one.profiles.contains_key(p)));
        }
    }
}
