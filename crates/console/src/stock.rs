//! A store's stock in the console: the transfers arriving (received with one button), those
//! sent and still on their way, a form to ship units to another location, and the books,
//! lowest availability first — through the same use cases as `/v1/transfers` and
//! `/v1/locations/{code}/stock`.

use api::AppState;
use app::access::Section;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use kernel::{Error, PageRequest};
use serde::Deserialize;
use store::stock::{Transfer, TransferQuery};

use crate::page::{self, ConsoleError, Frame};
use crate::session::{Staff, percent};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/stock", get(stock))
        .route("/console/transfers", post(ship))
        .route("/console/transfers/{id}/receive", post(receive))
}

/// A transfer as a row: what, from or to where, how many, since when.
pub struct TransferRow {
    pub id: String,
    pub sku: String,
    pub other: String,
    pub quantity: i64,
    pub reference: String,
    pub shipped: String,
}

/// A line of the books.
pub struct BookRow {
    pub sku: String,
    pub on_hand: i64,
    pub held: i64,
    pub safety: i64,
    pub in_transit: i64,
    pub available: i64,
}

#[derive(Template)]
#[template(path = "stock.html")]
struct StockPage {
    frame: Frame,
    store: String,
    stores: Vec<(String, String, bool)>,
    destinations: Vec<(String, String)>,
    arriving: Vec<TransferRow>,
    leaving: Vec<TransferRow>,
    books: Vec<BookRow>,
    done: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct StockQuery {
    store: Option<String>,
    done: Option<String>,
}

/// The transfers of `store` in transit, read at once: (arriving, leaving), each with the
/// other end's name.
async fn in_transit(
    s: &AppState,
    staff: &Staff,
    store: &str,
    names: &std::collections::HashMap<String, catalog::location::Location>,
) -> Result<(Vec<TransferRow>, Vec<TransferRow>), ConsoleError> {
    let all =
        PageRequest::parse(Some(kernel::page::MAX_LIMIT), None).map_err(|e| staff.error(e))?;
    let q = TransferQuery {
        inbound: None,
        status: Some("in_transit".into()),
    };
    let found = app::stock::transfers(&s.db, staff.principal(), store, &q, &all)
        .await
        .map_err(|e| staff.error(e))?;
    let row = |t: Transfer, other: String| TransferRow {
        other: names.get(&other).map_or(other, |l| l.name.clone()),
        shipped: page::local_time(t.created_at, "Europe/Paris", staff.words),
        reference: t.reference.unwrap_or_default(),
        id: t.id,
        sku: t.sku,
        quantity: t.quantity,
    };
    let (mut arriving, mut leaving) = (Vec::new(), Vec::new());
    for t in found.data {
        if t.to_location == store {
            let from = t.from_location.clone();
            arriving.push(row(t, from));
        } else {
            let to = t.to_location.clone();
            leaving.push(row(t, to));
        }
    }
    Ok((arriving, leaving))
}

/// The store's books, lowest availability first: what to reorder or ask a transfer for.
async fn stock(
    State(s): State<AppState>,
    staff: Staff,
    Query(q): Query<StockQuery>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::Stock)?;
    let p = staff.principal();
    let (stores, place) = app::work_queue::pick_store(&s.db, p, q.store.as_deref())
        .await
        .map_err(|e| staff.error(e))?;
    let all =
        PageRequest::parse(Some(kernel::page::MAX_LIMIT), None).map_err(|e| staff.error(e))?;
    let mut books = app::stock::books(&s.db, p, &place.code, &all)
        .await
        .map_err(|e| staff.error(e))?
        .data;
    books.sort_by_key(|b| (inventory::atp(&b.level), b.sku.clone()));
    let locations = s.reference.locations().await.map_err(|e| staff.error(e))?;
    let mut destinations: Vec<(String, String)> = locations
        .values()
        .filter(|l| l.active && l.code != place.code)
        .map(|l| (l.code.clone(), l.name.clone()))
        .collect();
    destinations.sort_by(|a, b| a.1.cmp(&b.1));
    let (arriving, leaving) = in_transit(&s, &staff, &place.code, &locations).await?;
    let w = staff.words;
    let page = StockPage {
        frame: Frame::of(
            &staff,
            Section::Stock,
            &format!("{} — {}", w.section(Section::Stock), place.name),
        ),
        arriving,
        leaving,
        books: books
            .into_iter()
            .map(|b| BookRow {
                available: inventory::atp(&b.level),
                on_hand: b.level.on_hand,
                held: b.level.held,
                safety: b.level.safety,
                in_transit: b.in_transit,
                sku: b.sku,
            })
            .collect(),
        stores: stores
            .iter()
            .map(|l| (l.code.clone(), l.name.clone(), l.code == place.code))
            .collect(),
        store: place.code,
        destinations,
        done: q.done.map(|d| match d.as_str() {
            "received" => w
                .say(
                    "Transfert reçu : le stock est à jour.",
                    "Transfer received: the stock is up to date.",
                )
                .to_owned(),
            _ => w.say("Transfert expédié.", "Transfer shipped.").to_owned(),
        }),
    };
    Ok(page::html(StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct ShipForm {
    csrf: String,
    store: String,
    sku: String,
    to: String,
    quantity: String,
    reference: Option<String>,
}

/// Ships units from the user's store to another location.
async fn ship(
    State(s): State<AppState>,
    staff: Staff,
    Form(f): Form<ShipForm>,
) -> Result<Response, ConsoleError> {
    staff.check_form(&f.csrf, Section::Stock)?;
    let quantity = f
        .quantity
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|q| (1..=1_000_000).contains(q))
        .ok_or_else(|| {
            staff.error(Error::validation(
                "quantity",
                "a quantity is a whole number from 1",
            ))
        })?;
    let sku = f.sku.trim().to_owned();
    if sku.is_empty() {
        return Err(staff.error(Error::validation("sku", "name the SKU to ship")));
    }
    let shipped = app::stock::ShipTransfer {
        sku,
        from_location: f.store.clone(),
        to_location: f.to,
        quantity,
        reference: f
            .reference
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
    };
    app::stock::ship_transfer(&s.db, staff.principal(), shipped, None, page::no_body)
        .await
        .map_err(|e| staff.error(e))?;
    let back = format!("/console/stock?store={}&done=shipped", percent(&f.store));
    Ok(Redirect::to(&back).into_response())
}

#[derive(Deserialize)]
struct ReceiveForm {
    csrf: String,
    store: String,
}

/// Receives a transfer at the user's store: its units are on hand from now.
async fn receive(
    State(s): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<ReceiveForm>,
) -> Result<Response, ConsoleError> {
    staff.check_form(&f.csrf, Section::Stock)?;
    app::stock::receive_transfer(&s.db, staff.principal(), id, None, page::no_body)
        .await
        .map_err(|e| staff.error(e))?;
    let back = format!("/console/stock?store={}&done=received", percent(&f.store));
    Ok(Redirect::to(&back).into_response())
}
