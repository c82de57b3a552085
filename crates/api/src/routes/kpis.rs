//! `GET /v1/reports/kpis`: the omnichannel KPIs of a period, as JSON or CSV.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kernel::{Error, ErrorCode, Timestamp};
use orders::kpis::{Dashboard, Outcomes};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::orders::FulfilmentModeDto;
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Q;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(kpis))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// One store (its orders, the returns it took or had sold, its tills' and kiosks' carts);
    /// the whole retailer when absent (a store's key: its own store).
    pub location: Option<String>,
    /// One channel ordered on.
    pub channel: Option<String>,
    /// Start (inclusive), RFC 3339; default 90 days before `to`.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<Timestamp>,
    /// End (exclusive), RFC 3339; default now.
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<Timestamp>,
    /// `json` (default) or `csv` (one figure per row).
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KpiPeriodDto {
    pub location: Option<String>,
    pub channel: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelModeDto {
    pub channel: String,
    pub mode: FulfilmentModeDto,
    pub currency: String,
    pub orders: i64,
    pub cancelled: i64,
    /// Captured less refunded.
    pub revenue_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyTimesDto {
    pub orders: i64,
    pub p50_minutes: Option<i64>,
    pub p90_minutes: Option<i64>,
    pub promised_p50_minutes: Option<i64>,
    /// Ready no later than promised, in basis points.
    pub on_time_bp: Option<i64>,
}

/// How orders of one mode ended: collected or bought, no-show or expired, cancelled.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomesDto {
    pub ended: i64,
    pub succeeded: i64,
    pub lapsed: i64,
    pub cancelled: i64,
    pub success_bp: Option<i64>,
    pub lapse_bp: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnsByPlaceDto {
    /// The channel the goods were bought on.
    pub bought_on: String,
    /// The store that took them back.
    pub returned_at: String,
    pub currency: String,
    pub returns: i64,
    pub value_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MultichannelDto {
    pub currency: String,
    pub customers: i64,
    /// Customers who ordered on two channels or more.
    pub multichannel_customers: i64,
    pub revenue_minor: i64,
    pub multichannel_revenue_minor: i64,
    pub revenue_share_bp: Option<i64>,
}

/// Research online, purchase offline: in-store purchases by known customers who viewed a
/// product online in the 7 days before.
#[derive(Debug, Serialize, ToSchema)]
pub struct RopoDto {
    pub store_orders: i64,
    pub ropo_orders: i64,
    pub share_bp: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SalesDto {
    pub currency: String,
    pub orders: i64,
    pub revenue_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartConversionDto {
    pub channel: String,
    pub opened: i64,
    pub ordered: i64,
    pub conversion_bp: Option<i64>,
}

/// What an owner is due for the online orders its stores fulfilled, returns deducted.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementDto {
    pub owner_kind: String,
    pub owner_name: String,
    pub currency: String,
    pub orders: i64,
    pub fulfilled_minor: i64,
    pub returned_minor: i64,
    pub due_minor: i64,
}

/// The KPIs of a period. Ratios are basis points (`6250` = 62.50 %); money is minor units.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpisDto {
    pub period: KpiPeriodDto,
    pub orders: i64,
    pub by_channel_and_mode: Vec<ChannelModeDto>,
    pub click_and_collect_share_bp: Option<i64>,
    pub time_to_ready: ReadyTimesDto,
    pub pickups: OutcomesDto,
    pub reservations: OutcomesDto,
    pub returns: Vec<ReturnsByPlaceDto>,
    pub multichannel: Vec<MultichannelDto>,
    pub ropo: RopoDto,
    /// Orders taken in a store (till, kiosk) and shipped from elsewhere.
    pub endless_aisle: Vec<SalesDto>,
    pub kiosk: Vec<SalesDto>,
    pub carts: Vec<CartConversionDto>,
    pub settlement: Vec<SettlementDto>,
}

fn outcomes(o: Outcomes) -> OutcomesDto {
    OutcomesDto {
        ended: o.ended,
        succeeded: o.succeeded,
        lapsed: o.lapsed,
        cancelled: o.cancelled,
        success_bp: o.success_bp,
        lapse_bp: o.lapse_bp,
    }
}

fn sales(list: Vec<orders::kpis::Sales>) -> Vec<SalesDto> {
    list.into_iter()
        .map(|s| SalesDto {
            currency: s.currency.code().to_owned(),
            orders: s.orders,
            revenue_minor: s.revenue_minor,
        })
        .collect()
}

fn by_channel_and_mode(d: &Dashboard) -> Vec<ChannelModeDto> {
    d.by_channel_and_mode
        .iter()
        .map(|g| ChannelModeDto {
            channel: g.channel.clone(),
            mode: g.mode.into(),
            currency: g.currency.code().to_owned(),
            orders: g.orders,
            cancelled: g.cancelled,
            revenue_minor: g.revenue_minor,
        })
        .collect()
}

fn parts(
    d: &Dashboard,
) -> (
    Vec<ReturnsByPlaceDto>,
    Vec<MultichannelDto>,
    Vec<CartConversionDto>,
    Vec<SettlementDto>,
) {
    let returns = d.returns.iter().map(|r| ReturnsByPlaceDto {
        bought_on: r.bought_on.clone(),
        returned_at: r.returned_at.clone(),
        currency: r.currency.code().to_owned(),
        returns: r.returns,
        value_minor: r.value_minor,
    });
    let multichannel = d.multichannel.iter().map(|m| MultichannelDto {
        currency: m.currency.code().to_owned(),
        customers: m.customers,
        multichannel_customers: m.multichannel_customers,
        revenue_minor: m.revenue_minor,
        multichannel_revenue_minor: m.multichannel_revenue_minor,
        revenue_share_bp: m.revenue_share_bp,
    });
    let carts = d.carts.iter().map(|c| CartConversionDto {
        channel: c.channel.clone(),
        opened: c.opened,
        ordered: c.ordered,
        conversion_bp: c.conversion_bp,
    });
    let settlement = d.settlement.iter().map(|s| SettlementDto {
        owner_kind: s.owner_kind.clone(),
        owner_name: s.owner_name.clone(),
        currency: s.currency.code().to_owned(),
        orders: s.orders,
        fulfilled_minor: s.fulfilled_minor,
        returned_minor: s.returned_minor,
        due_minor: s.due_minor,
    });
    (
        returns.collect(),
        multichannel.collect(),
        carts.collect(),
        settlement.collect(),
    )
}

pub fn kpis_dto(f: store::kpis::Filter, d: Dashboard) -> KpisDto {
    let (returns, multichannel, carts, settlement) = parts(&d);
    let t = &d.time_to_ready;
    KpisDto {
        period: KpiPeriodDto {
            location: f.location,
            channel: f.channel,
            from: f.from,
            to: f.to,
        },
        orders: d.orders,
        by_channel_and_mode: by_channel_and_mode(&d),
        click_and_collect_share_bp: d.click_and_collect_share_bp,
        time_to_ready: ReadyTimesDto {
            orders: t.orders,
            p50_minutes: t.p50_minutes,
            p90_minutes: t.p90_minutes,
            promised_p50_minutes: t.promised_p50_minutes,
            on_time_bp: t.on_time_bp,
        },
        ropo: RopoDto {
            store_orders: d.ropo.store_orders,
            ropo_orders: d.ropo.ropo_orders,
            share_bp: d.ropo.share_bp,
        },
        pickups: outcomes(d.pickups),
        reservations: outcomes(d.reservations),
        endless_aisle: sales(d.endless_aisle),
        kiosk: sales(d.kiosk),
        returns,
        multichannel,
        carts,
        settlement,
    }
}

/// CSV rows: `metric,channel,mode,place,currency,value`.
#[derive(Default)]
struct Csv(Vec<[String; 6]>);

impl Csv {
    fn put(
        &mut self,
        metric: &str,
        (channel, mode, place): (&str, &str, &str),
        currency: &str,
        value: Option<i64>,
    ) {
        let value = value.map(|v| v.to_string()).unwrap_or_default();
        self.0
            .push([metric, channel, mode, place, currency, &value].map(str::to_owned));
    }

    fn render(self) -> String {
        let quote = |field: &String| {
            if field.contains([',', '"', '\n']) {
                format!("\"{}\"", field.replace('"', "\"\""))
            } else {
                field.clone()
            }
        };
        let mut out = String::from("metric,channel,mode,place,currency,value\n");
        for r in self.0 {
            out.push_str(&r.iter().map(quote).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        out
    }
}

fn orders_csv(k: &KpisDto, csv: &mut Csv) {
    csv.put("orders", ("", "", ""), "", Some(k.orders));
    csv.put(
        "click_and_collect_share_bp",
        ("", "", ""),
        "",
        k.click_and_collect_share_bp,
    );
    for g in &k.by_channel_and_mode {
        let mode = serde_json::to_value(g.mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        csv.put(
            "orders",
            (&g.channel, &mode, ""),
            &g.currency,
            Some(g.orders),
        );
        csv.put(
            "revenue_minor",
            (&g.channel, &mode, ""),
            &g.currency,
            Some(g.revenue_minor),
        );
    }
    let t = &k.time_to_ready;
    let pickup = ("", "pickup", "");
    csv.put("time_to_ready_p50_minutes", pickup, "", t.p50_minutes);
    csv.put("time_to_ready_p90_minutes", pickup, "", t.p90_minutes);
    csv.put("promised_p50_minutes", pickup, "", t.promised_p50_minutes);
    csv.put("ready_on_time_bp", pickup, "", t.on_time_bp);
    csv.put("pickup_rate_bp", pickup, "", k.pickups.success_bp);
    csv.put("no_show_rate_bp", pickup, "", k.pickups.lapse_bp);
    csv.put(
        "reservation_conversion_bp",
        ("", "reserve", ""),
        "",
        k.reservations.success_bp,
    );
}

fn customers_csv(k: &KpisDto, csv: &mut Csv) {
    for r in &k.returns {
        let at = (r.bought_on.as_str(), "", r.returned_at.as_str());
        csv.put("returns", at, &r.currency, Some(r.returns));
        csv.put("returns_value_minor", at, &r.currency, Some(r.value_minor));
    }
    for m in &k.multichannel {
        csv.put(
            "multichannel_customers",
            ("", "", ""),
            &m.currency,
            Some(m.multichannel_customers),
        );
        csv.put(
            "multichannel_revenue_share_bp",
            ("", "", ""),
            &m.currency,
            m.revenue_share_bp,
        );
    }
    csv.put("ropo_share_bp", ("", "", ""), "", k.ropo.share_bp);
    for (metric, list) in [("endless_aisle", &k.endless_aisle), ("kiosk", &k.kiosk)] {
        for s in list {
            csv.put(
                &format!("{metric}_orders"),
                ("", "", ""),
                &s.currency,
                Some(s.orders),
            );
            csv.put(
                &format!("{metric}_revenue_minor"),
                ("", "", ""),
                &s.currency,
                Some(s.revenue_minor),
            );
        }
    }
    for c in &k.carts {
        csv.put(
            "cart_conversion_bp",
            (&c.channel, "", ""),
            "",
            c.conversion_bp,
        );
    }
    for s in &k.settlement {
        csv.put(
            "settlement_due_minor",
            ("", "", &s.owner_name),
            &s.currency,
            Some(s.due_minor),
        );
    }
}

/// The KPIs as CSV: one figure per row, `metric,channel,mode,place,currency,value`.
pub fn kpis_csv(k: &KpisDto) -> String {
    let mut csv = Csv::default();
    orders_csv(k, &mut csv);
    customers_csv(k, &mut csv);
    csv.render()
}

/// The KPIs of a period for one store or all, one channel or all (admin, marketing; a store
/// key its own store's). `format=csv` gives one figure per row.
#[utoipa::path(get, path = "/v1/reports/kpis", tag = "reports", params(KpiQuery),
    responses((status = 200, content((KpisDto = "application/json"), (String = "text/csv"))), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn kpis(State(s): State<AppState>, p: Principal, Q(q): Q<KpiQuery>) -> ApiResult<Response> {
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(Error::new(ErrorCode::InvalidQuery, "format is json or csv")
                .with("field", "format")
                .into());
        }
    };
    let asked = app::kpis::Asked {
        location: q.location,
        channel: q.channel,
        from: q.from,
        to: q.to,
    };
    let (filter, dashboard) = app::kpis::read(&s.db, &p, asked).await?;
    let dto = kpis_dto(filter, dashboard);
    if csv {
        let content_type = "text/csv; charset=utf-8";
        return Ok(([(header::CONTENT_TYPE, content_type)], kpis_csv(&dto)).into_response());
    }
    Ok(Json(dto).into_response())
}
