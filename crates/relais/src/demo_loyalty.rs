//! The demo's loyalty programme: Élan Sport's "Club" — a point per euro, half as much again
//! in the app, 100 points pay 1 €, silver from 300 points and gold from 800 over twelve
//! months. Two customers in three join before the demo's orders (which earn as they are
//! placed); some got a sponsorship or a goodwill bonus, so every tier has members.

use app::Principal;
use loyalty::{Programme, Tier};
use store::Db;
use store::loyalty::{Entry, Member};

use crate::demo_calls::{kept, side_by_side};

fn reward(code: &str, name: &str, points: i64, value_minor: i64) -> loyalty::Reward {
    loyalty::Reward {
        code: code.into(),
        name: name.into(),
        points,
        value_minor,
        valid_months: 6,
    }
}

fn programme() -> Programme {
    let tier = |code: &str, threshold, earn_pct| Tier {
        code: code.into(),
        threshold,
        earn_pct,
    };
    Programme {
        channel_pct: [("app".to_owned(), 150)].into(),
        tiers: vec![
            tier("club", 0, 100),
            tier("silver", 300, 125),
            tier("gold", 800, 150),
        ],
        rewards: vec![
            reward("bon-5", "Bon d'achat 5 €", 500, 500),
            reward("bon-15", "Bon d'achat 15 €", 1200, 1500),
        ],
        ..Programme::default()
    }
}

/// The programme, and the members among `customers` with their bonuses.
pub(crate) async fn seed(
    db: &Db,
    admin: &Principal,
    customers: &[String],
) -> Result<(), kernel::Error> {
    kept::<Programme, _>(|k| app::loyalty::set_programme(db, admin, programme(), None, k)).await?;
    let members: Vec<&String> = customers
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 2)
        .map(|(_, id)| id)
        .collect();
    side_by_side(
        members
            .iter()
            .map(|id| kept::<Member, _>(move |k| app::loyalty::enrol(db, admin, id, None, k))),
    )
    .await?;
    let bonuses = members
        .iter()
        .enumerate()
        .filter_map(|(i, id)| match i % 8 {
            0 => Some((*id, 900, "Parrainage : trois amis inscrits au Club")),
            1 | 2 => Some((*id, 350, "Geste commercial : colis arrivé en retard")),
            _ => None,
        });
    side_by_side(bonuses.map(|(id, points, why)| {
        kept::<Entry, _>(move |k| {
            app::loyalty::adjust(db, admin, id, (points, why.to_owned()), None, k)
        })
    }))
    .await?;
    Ok(())
}
