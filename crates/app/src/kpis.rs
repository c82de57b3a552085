//! The KPIs of a period, for one store or the whole retailer, one channel or all: read by
//! `store::kpis`, computed by `orders::kpis`. Admins and marketers read any store's; a
//! store (its key or its people) its own.

use std::collections::HashMap;

use kernel::{Error, Timestamp};
use orders::kpis::Dashboard;
use store::Db;
use store::kpis::Filter;

use crate::access::{self, Principal};

/// The period when none is named: the last 90 days.
pub const DEFAULT_DAYS: i64 = 90;
/// The longest period one dashboard covers.
pub const MAX_DAYS: i64 = 400;
const DAY_MS: i64 = 86_400_000;

/// What was asked: a store, a channel, a period (each optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    pub location: Option<String>,
    pub channel: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

/// The filter `p` may read for `asked`, at `now`.
pub fn filter(p: &Principal, asked: Asked, now: Timestamp) -> Result<Filter, Error> {
    let location = access::kpi_location(p, asked.location.as_deref())?;
    let to = asked.to.unwrap_or(now);
    let from = asked
        .from
        .unwrap_or_else(|| Timestamp::from_unix_ms(to.unix_ms() - DEFAULT_DAYS * DAY_MS));
    if from >= to {
        return Err(Error::validation(
            "from",
            "the period starts before it ends",
        ));
    }
    if to.unix_ms() - from.unix_ms() > MAX_DAYS * DAY_MS {
        return Err(Error::validation(
            "from",
            format!("a period covers {MAX_DAYS} days at most"),
        ));
    }
    Ok(Filter {
        location,
        channel: asked.channel,
        from,
        to,
    })
}

/// Every KPI of the period `f` (see [`filter`]).
pub async fn dashboard(db: &Db, f: &Filter) -> Result<Dashboard, Error> {
    let facts = store::kpis::order_facts(db, f).await?;
    let returns = store::kpis::returns(db, f).await?;
    let carts = store::kpis::carts(db, f).await?;
    let buyers = orders::kpis::store_buyers(&facts);
    let since = Timestamp::from_unix_ms(f.from.unix_ms() - orders::kpis::ROPO_DAYS * DAY_MS);
    let views = store::kpis::online_views(db, &buyers, (since, f.to)).await?;
    let places: HashMap<String, catalog::location::Location> = store::locations::all_locations(db)
        .await?
        .into_iter()
        .map(|l| (l.code.clone(), l))
        .collect();
    let promise = |o: &orders::kpis::OrderFact| {
        let place = places.get(o.location.as_deref()?)?;
        place.pickup_ready_by(o.created_at)
    };
    Ok(orders::kpis::dashboard(
        &facts,
        (returns, carts),
        &views,
        &promise,
    ))
}

/// What `p` may filter the dashboard by: the stores whose KPIs it reads (all, for admins and
/// marketers) and the channels (a store: its own and those no store owns).
pub async fn choices(
    db: &Db,
    p: &Principal,
) -> Result<(Vec<catalog::location::Location>, Vec<String>), Error> {
    let everywhere = access::kpi_location(p, None).is_ok_and(|l| l.is_none());
    let mut stores: Vec<_> = store::locations::all_locations(db)
        .await?
        .into_iter()
        .filter(|l| l.kind == catalog::location::LocationKind::Store)
        .filter(|l| everywhere || p.stores().any(|s| s == l.code))
        .collect();
    stores.sort_by(|a, b| a.name.cmp(&b.name));
    let all = kernel::PageRequest::parse(Some(kernel::page::MAX_LIMIT), None)?;
    let channels = store::channels::list_channels(db, None, &all)
        .await?
        .data
        .into_iter()
        .filter(|c| {
            everywhere
                || c.location_code.is_none()
                || c.location_code
                    .as_deref()
                    .is_some_and(|l| p.stores().any(|s| s == l))
        })
        .map(|c| c.code)
        .collect();
    Ok((stores, channels))
}

/// The dashboard `p` asked for, now.
pub async fn read(db: &Db, p: &Principal, asked: Asked) -> Result<(Filter, Dashboard), Error> {
    let f = filter(p, asked, crate::clock::now())?;
    let d = dashboard(db, &f).await?;
    Ok((f, d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scope;

    fn with(scopes: Vec<Scope>) -> Principal {
        Principal {
            key_id: "usr_1".into(),
            scopes,
        }
    }

    #[test]
    fn a_store_reads_its_own_kpis_and_a_marketer_any() {
        let now = Timestamp::from_unix_ms(1_800_000_000_000);
        let lyon = with(vec![Scope::Store("LYS".into())]);
        let f = filter(&lyon, Asked::default(), now).unwrap();
        assert_eq!(f.location.as_deref(), Some("LYS"));
        assert_eq!(f.to.unix_ms() - f.from.unix_ms(), 90 * DAY_MS);
        let paris = Asked {
            location: Some("PAR".into()),
            ..Asked::default()
        };
        assert!(filter(&lyon, paris.clone(), now).is_err());
        let two = with(vec![Scope::Store("LYS".into()), Scope::Store("PAR".into())]);
        assert!(filter(&two, Asked::default(), now).is_err(), "which one?");
        assert_eq!(
            filter(&two, paris.clone(), now)
                .unwrap()
                .location
                .as_deref(),
            Some("PAR")
        );
        let marketer = with(vec![Scope::Marketing]);
        assert_eq!(
            filter(&marketer, Asked::default(), now).unwrap().location,
            None
        );
        assert!(filter(&with(vec![Scope::Service]), Asked::default(), now).is_err());
        assert!(
            filter(
                &with(vec![Scope::Channel("web".into())]),
                Asked::default(),
                now
            )
            .is_err()
        );
        let backwards = Asked {
            from: Some(now),
            to: Some(Timestamp::from_unix_ms(now.unix_ms() - 1)),
            ..Asked::default()
        };
        assert!(filter(&marketer, backwards, now).is_err());
    }
}
