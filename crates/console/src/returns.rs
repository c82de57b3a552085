//! The returns desk: scan or type the e-receipt (or the order number), choose the lines and
//! their condition, and give the money back — to the original payment, as store credit, or
//! against an exchange — through the same use case as `POST /v1/returns`.

use std::sync::{Arc, Mutex};

use api::AppState;
use app::access::Section;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use kernel::Error;
use orders::RefundMethod;
use orders::cart::Line;
use orders::returns::{Condition, Return};
use serde::Deserialize;
use store::returns::ReturnLineIn;

use crate::page::{self, ConsoleError, Frame};
use crate::session::Staff;

pub fn router() -> Router<AppState> {
    Router::new().route("/console/returns", get(desk).post(take_back))
}

/// A line of the order as the desk shows it.
pub struct DeskLine {
    pub line_no: i64,
    pub sku: String,
    pub bought: i64,
    pub returnable: i64,
    pub unit: String,
}

/// The order found, ready to take back.
pub struct Found {
    pub id: String,
    pub channel: String,
    pub date: String,
    pub total: String,
    pub lines: Vec<DeskLine>,
}

#[derive(Template)]
#[template(path = "returns.html")]
struct DeskPage {
    frame: Frame,
    receipt: String,
    stores: Vec<(String, String, bool)>,
    found: Option<Found>,
    done: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DeskQuery {
    receipt: Option<String>,
    store: Option<String>,
}

async fn found(s: &AppState, staff: &Staff, reference: &str) -> Result<Found, ConsoleError> {
    let w = staff.words;
    let o = app::returns::find_by_reference(&s.db, reference)
        .await
        .map_err(|e| staff.error(e))?;
    let lines = o
        .lines
        .iter()
        .map(|l| DeskLine {
            line_no: l.line_no,
            sku: l.sku.clone(),
            bought: l.sold,
            returnable: l.sold - l.returned,
            unit: page::money(l.paid_minor() / l.quantity.max(1), o.currency, w),
        })
        .collect();
    Ok(Found {
        date: page::local_time(o.created_at, "Europe/Paris", w),
        total: page::money(o.total_minor, o.currency, w),
        id: o.id,
        channel: o.channel,
        lines,
    })
}

async fn render_desk(
    s: &AppState,
    staff: &Staff,
    q: &DeskQuery,
    done: Option<String>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::ReturnsDesk)?;
    let (stores, place) = app::work_queue::pick_store(&s.db, staff.principal(), q.store.as_deref())
        .await
        .map_err(|e| staff.error(e))?;
    let receipt = q.receipt.clone().unwrap_or_default();
    let found = match receipt.trim() {
        "" => None,
        r => Some(found(s, staff, r).await?),
    };
    let page = DeskPage {
        frame: Frame::of(staff, Section::ReturnsDesk, staff.words.returns_title),
        stores: stores
            .iter()
            .map(|l| (l.code.clone(), l.name.clone(), l.code == place.code))
            .collect(),
        receipt,
        found,
        done,
    };
    Ok(page::html(StatusCode::OK, &page))
}

async fn desk(
    State(s): State<AppState>,
    staff: Staff,
    Query(q): Query<DeskQuery>,
) -> Result<Response, ConsoleError> {
    render_desk(&s, &staff, &q, None).await
}

/// The lines chosen (`qty_<line>` above zero, with `cond_<line>`) and the refund method.
/// The chosen lines, the refund method and, for an exchange, the new goods.
type Chosen = (Vec<ReturnLineIn>, RefundMethod, Option<Vec<Line>>);

fn parse_return(fields: &[(String, String)]) -> Result<Chosen, Error> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut lines = Vec::new();
    for (key, value) in fields {
        let Some(line_no) = key.strip_prefix("qty_").and_then(|n| n.parse::<i64>().ok()) else {
            continue;
        };
        let quantity: i64 = value
            .trim()
            .parse()
            .map_err(|_| Error::validation("lines", "a quantity is a whole number"))?;
        if quantity == 0 {
            continue;
        }
        let condition = match field(&format!("cond_{line_no}")) {
            Some("damaged") => Condition::Damaged,
            _ => Condition::Resellable,
        };
        lines.push(ReturnLineIn {
            line_no,
            quantity,
            condition,
        });
    }
    if lines.is_empty() {
        return Err(Error::validation(
            "lines",
            "choose at least one unit to take back",
        ));
    }
    let method = match field("refund") {
        Some("store_credit") => RefundMethod::StoreCredit,
        Some("original_payment") => RefundMethod::OriginalPayment,
        Some("exchange") => RefundMethod::Exchange,
        _ => {
            return Err(Error::validation(
                "refund",
                "choose how the money goes back",
            ));
        }
    };
    let exchange = match method {
        RefundMethod::Exchange => {
            let sku = field("exchange_sku")
                .map(str::trim)
                .filter(|s| !s.is_empty());
            let sku = sku.ok_or_else(|| {
                Error::validation("exchange_sku", "name the SKU taken in exchange")
            })?;
            let quantity = field("exchange_quantity")
                .and_then(|q| q.trim().parse().ok())
                .unwrap_or(1);
            Some(vec![Line {
                sku: sku.to_owned(),
                quantity,
            }])
        }
        _ => None,
    };
    Ok((lines, method, exchange))
}

fn summary(r: &Return, w: &crate::words::Words) -> String {
    let money = |m| page::money(m, r.currency, w);
    match (&r.store_credit_id, &r.exchange_order) {
        (Some(credit), _) => format!(
            "{} — {} ({credit})",
            w.say("Avoir émis", "Store credit issued"),
            money(r.value_minor)
        ),
        (_, Some(sale)) => format!(
            "{} {sale} — {} {}, {} {}",
            w.say("Échange", "Exchange"),
            w.say("remboursé", "refunded"),
            money(r.refund_minor),
            w.say("payé en plus", "paid on top"),
            money(r.paid_minor)
        ),
        _ => format!(
            "{} — {}",
            w.say("Remboursé", "Refunded"),
            money(r.refund_minor)
        ),
    }
}

/// Takes the chosen units back at the chosen store.
async fn take_back(
    State(s): State<AppState>,
    staff: Staff,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    staff.check_form(&field("csrf").unwrap_or_default(), Section::ReturnsDesk)?;
    let (lines, method, exchange_lines) = parse_return(&fields).map_err(|e| staff.error(e))?;
    let req = app::returns::ReturnRequest {
        order: field("order").unwrap_or_default(),
        location: field("store"),
        by_mail: false,
        lines,
        method,
        exchange_lines,
        refund_shipping: false,
    };
    let taken: Arc<Mutex<Option<Return>>> = Arc::default();
    let keep = taken.clone();
    let render = move |r: Return| {
        if let Ok(mut slot) = keep.lock() {
            *slot = Some(r);
        }
        store::StoredResponse {
            status: 201,
            body: String::new(),
            replayed: false,
        }
    };
    let window = s.order_rules.return_window_days;
    app::returns::record(
        &s.reference,
        &*s.payments,
        staff.principal(),
        (req, window),
        None,
        render,
    )
    .await
    .map_err(|e| staff.error(e))?;
    let done = taken
        .lock()
        .ok()
        .and_then(|r| r.as_ref().map(|r| summary(r, staff.words)));
    let q = DeskQuery {
        receipt: field("order"),
        store: field("store"),
    };
    render_desk(&s, &staff, &q, done).await
}
