//! The KPI dashboard: figures and charts for a store or the whole retailer, a channel or all,
//! over the last days, with the same figures as CSV. Computed by `app::kpis` (the API's
//! `/v1/reports/kpis`), shown to the roles that read them.

use api::AppState;
use app::access::Section;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kernel::{Error, ErrorCode, Timestamp};
use orders::kpis::Dashboard;
use serde::Deserialize;

use crate::page::{self, ConsoleError, Frame};
use crate::session::{Staff, percent};
use crate::words::Words;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/kpis", get(dashboard_page))
        .route("/console/kpis.csv", get(csv))
}

#[derive(Debug, Default, Deserialize)]
struct KpiQuery {
    store: Option<String>,
    channel: Option<String>,
    days: Option<i64>,
}

/// The periods offered, in days.
const PERIODS: [i64; 4] = [7, 30, 90, 365];

impl KpiQuery {
    fn asked(&self, staff: &Staff) -> Result<app::kpis::Asked, ConsoleError> {
        let days = self.days.unwrap_or(90);
        if !PERIODS.contains(&days) {
            return Err(staff.error(
                Error::new(
                    ErrorCode::InvalidQuery,
                    "the period is 7, 30, 90 or 365 days",
                )
                .with("field", "days"),
            ));
        }
        let now = app::clock::now();
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Ok(app::kpis::Asked {
            location: nonempty(&self.store),
            channel: nonempty(&self.channel),
            from: Some(Timestamp::from_unix_ms(now.unix_ms() - days * 86_400_000)),
            to: Some(now),
        })
    }

    fn query_string(&self) -> String {
        format!(
            "store={}&channel={}&days={}",
            percent(self.store.as_deref().unwrap_or("")),
            percent(self.channel.as_deref().unwrap_or("")),
            self.days.unwrap_or(90)
        )
    }
}

/// A figure of the top row.
pub struct Tile {
    pub label: &'static str,
    pub value: String,
}

/// A horizontal bar chart: each bar's label, value shown and length (0–300).
pub struct Chart {
    pub id: &'static str,
    pub title: &'static str,
    pub bars: Vec<(String, String, i64)>,
}

impl Chart {
    fn of(id: &'static str, title: &'static str, values: Vec<(String, i64, String)>) -> Chart {
        let top = values.iter().map(|v| v.1).max().unwrap_or(0).max(1);
        Chart {
            id,
            title,
            bars: values
                .into_iter()
                .map(|(label, v, shown)| (label, shown, v.max(0) * 300 / top))
                .collect(),
        }
    }

    /// The height the SVG needs for its bars.
    pub fn height(&self) -> usize {
        self.bars.len() * 28 + 8
    }
}

fn pct(bp: Option<i64>, w: &Words) -> String {
    match bp {
        None => "—".into(),
        Some(bp) => {
            let text = format!("{}.{} %", bp / 100, (bp % 100) / 10);
            if w.lang == "fr" {
                text.replace('.', ",")
            } else {
                text
            }
        }
    }
}

fn minutes(m: Option<i64>) -> String {
    m.map_or("—".into(), |m| format!("{}h{:02}", m / 60, m % 60))
}

fn tiles(d: &Dashboard, w: &Words) -> Vec<Tile> {
    let t = &d.time_to_ready;
    let l = |f, e| w.say(f, e);
    vec![
        Tile {
            label: l("Commandes", "Orders"),
            value: d.orders.to_string(),
        },
        Tile {
            label: l("Part click & collect", "Click & collect share"),
            value: pct(d.click_and_collect_share_bp, w),
        },
        Tile {
            label: l("Taux de retrait", "Pickup rate"),
            value: pct(d.pickups.success_bp, w),
        },
        Tile {
            label: l("Non retirées", "No-show rate"),
            value: pct(d.pickups.lapse_bp, w),
        },
        Tile {
            label: l("Réservations achetées", "Reservation conversion"),
            value: pct(d.reservations.success_bp, w),
        },
        Tile {
            label: l("Prêtes en (p50 / p90)", "Time to ready (p50 / p90)"),
            value: format!("{} / {}", minutes(t.p50_minutes), minutes(t.p90_minutes)),
        },
        Tile {
            label: l("Prêtes à l'heure promise", "Ready on time"),
            value: pct(t.on_time_bp, w),
        },
        Tile {
            label: "ROPO",
            value: pct(d.ropo.share_bp, w),
        },
        Tile {
            label: l(
                "CA des clients multicanal",
                "Multichannel customers' revenue",
            ),
            value: d
                .multichannel
                .first()
                .map_or("—".into(), |m| pct(m.revenue_share_bp, w)),
        },
    ]
}

/// Orders and net revenue per channel, over every mode.
fn by_channel(d: &Dashboard) -> Vec<(String, i64, i64, kernel::Currency)> {
    let mut out: Vec<(String, i64, i64, kernel::Currency)> = Vec::new();
    for g in &d.by_channel_and_mode {
        match out.iter_mut().find(|c| c.0 == g.channel) {
            Some(c) => {
                c.1 += g.orders;
                c.2 += g.revenue_minor;
            }
            None => out.push((g.channel.clone(), g.orders, g.revenue_minor, g.currency)),
        }
    }
    out
}

fn charts(d: &Dashboard, w: &Words) -> Vec<Chart> {
    let channels = by_channel(d);
    let orders = channels
        .iter()
        .map(|c| (c.0.clone(), c.1, c.1.to_string()))
        .collect();
    let revenue = channels
        .iter()
        .map(|c| (c.0.clone(), c.2, page::money(c.2, c.3, w)))
        .collect();
    let carts = d
        .carts
        .iter()
        .map(|c| {
            (
                c.channel.clone(),
                c.conversion_bp.unwrap_or(0),
                pct(c.conversion_bp, w),
            )
        })
        .collect();
    let returns = d
        .returns
        .iter()
        .map(|r| {
            (
                format!("{} → {}", r.bought_on, r.returned_at),
                r.returns,
                r.returns.to_string(),
            )
        })
        .collect();
    vec![
        Chart::of(
            "orders",
            w.say("Commandes par canal", "Orders by channel"),
            orders,
        ),
        Chart::of(
            "revenue",
            w.say("Chiffre d'affaires net par canal", "Net revenue by channel"),
            revenue,
        ),
        Chart::of(
            "carts",
            w.say("Paniers convertis par canal", "Cart conversion by channel"),
            carts,
        ),
        Chart::of(
            "returns",
            w.say(
                "Retours : canal d'achat → lieu de retour",
                "Returns: bought on → returned at",
            ),
            returns,
        ),
    ]
}

#[derive(Template)]
#[template(path = "kpis.html")]
struct KpiPage {
    frame: Frame,
    stores: Vec<(String, String, bool)>,
    channels: Vec<(String, bool)>,
    periods: Vec<(i64, bool)>,
    all_stores: bool,
    tiles: Vec<Tile>,
    charts: Vec<Chart>,
    settlement: Vec<Vec<String>>,
    csv: String,
}

async fn dashboard_page(
    State(s): State<AppState>,
    staff: Staff,
    Query(q): Query<KpiQuery>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::Kpis)?;
    let p = staff.principal();
    let (filter, d) = app::kpis::read(&s.db, p, q.asked(&staff)?)
        .await
        .map_err(|e| staff.error(e))?;
    let (stores, channels) = app::kpis::choices(&s.db, p)
        .await
        .map_err(|e| staff.error(e))?;
    let w = staff.words;
    let chosen = |code: &str| filter.location.as_deref() == Some(code);
    let page = KpiPage {
        frame: Frame::of(&staff, Section::Kpis, w.kpis_title),
        all_stores: app::access::kpi_location(p, None).is_ok_and(|l| l.is_none()),
        stores: stores
            .iter()
            .map(|l| (l.code.clone(), l.name.clone(), chosen(&l.code)))
            .collect(),
        channels: channels
            .into_iter()
            .map(|c| {
                let on = filter.channel.as_deref() == Some(c.as_str());
                (c, on)
            })
            .collect(),
        periods: PERIODS
            .iter()
            .map(|d| (*d, *d == q.days.unwrap_or(90)))
            .collect(),
        tiles: tiles(&d, w),
        charts: charts(&d, w),
        settlement: d
            .settlement
            .iter()
            .map(|x| {
                vec![
                    x.owner_name.clone(),
                    x.orders.to_string(),
                    page::money(x.fulfilled_minor, x.currency, w),
                    page::money(x.returned_minor, x.currency, w),
                    page::money(x.due_minor, x.currency, w),
                ]
            })
            .collect(),
        csv: format!("/console/kpis.csv?{}", q.query_string()),
    };
    Ok(page::html(StatusCode::OK, &page))
}

/// The same figures as `GET /v1/reports/kpis?format=csv`, for a spreadsheet.
async fn csv(
    State(s): State<AppState>,
    staff: Staff,
    Query(q): Query<KpiQuery>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::Kpis)?;
    let (filter, d) = app::kpis::read(&s.db, staff.principal(), q.asked(&staff)?)
        .await
        .map_err(|e| staff.error(e))?;
    let body = api::routes::kpis::kpis_csv(&api::routes::kpis::kpis_dto(filter, d));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"relais-kpis.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}
