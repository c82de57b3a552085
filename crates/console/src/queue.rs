//! The store work queue: click & collect to prepare, ready and late; reservations; counter
//! orders; parcels — live over server-sent events; orders moved on and handed over with the
//! customer's code or a scan of their QR.

use std::convert::Infallible;
use std::time::Duration;

use api::AppState;
use app::access::Section;
use app::work_queue::{Item, Queue};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use catalog::location::Location;
use futures::Stream;
use kernel::{Error, ErrorCode};
use orders::Transition;
use serde::Deserialize;

use crate::page::{self, ConsoleError, Frame};
use crate::session::{Staff, percent};
use crate::words::Words;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/queue", get(queue_page))
        .route("/console/queue/list", get(queue_list))
        .route("/console/queue/events", get(queue_events))
        .route("/console/queue/handover", post(hand_over_scanned))
        .route("/console/orders/{id}/{transition}", post(act))
}

/// An order as a queue row shows it.
pub struct Row {
    pub id: String,
    /// The id's last characters: enough to tell orders apart on a counter.
    pub short: String,
    pub mode: &'static str,
    pub state: &'static str,
    pub customer: String,
    pub items: String,
    pub total: String,
    pub promised: String,
    pub until: String,
    pub late: bool,
    pub needs_code: bool,
    pub actions: Vec<(&'static str, &'static str)>,
}

/// `…` and the last 8 characters of an id.
fn short(id: &str) -> String {
    let tail: String = id
        .chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

fn row(it: &Item, place: &Location, w: &Words) -> Row {
    let o = &it.order;
    let when = |t: Option<kernel::Timestamp>| {
        t.map(|t| page::local_time(t, &place.time_zone, w))
            .unwrap_or_default()
    };
    Row {
        id: o.id.clone(),
        short: short(&o.id),
        mode: w.mode(o.mode),
        state: w.state(o.state),
        customer: o
            .customer_id
            .clone()
            .unwrap_or_else(|| w.anonymous.to_owned()),
        items: o
            .lines
            .iter()
            .map(|l| format!("{} × {}", l.quantity, l.sku))
            .collect::<Vec<_>>()
            .join(", "),
        total: page::money(o.total_minor, o.currency, w),
        promised: when(it.promised_at),
        until: when(o.deadline_at),
        late: it.late,
        needs_code: it.actions.contains(&Transition::Collect),
        actions: it
            .actions
            .iter()
            .filter(|t| **t != Transition::Collect)
            .map(|t| (t.as_str(), w.transition(*t)))
            .collect(),
    }
}

/// One part of the queue: a heading and its rows.
pub struct Part {
    pub key: &'static str,
    pub title: &'static str,
    pub rows: Vec<Row>,
}

fn parts(q: &Queue, place: &Location, w: &Words) -> Vec<Part> {
    let part = |key, title, items: &[Item]| Part {
        key,
        title,
        rows: items.iter().map(|i| row(i, place, w)).collect(),
    };
    vec![
        part("to_prepare", w.to_prepare, &q.to_prepare),
        part("ready", w.ready, &q.ready),
        part("reservations", w.reservations, &q.reservations),
        part("counter", w.counter, &q.counter),
        part("parcels", w.parcels, &q.parcels),
    ]
}

/// The queue's lists (the live view's fragment, and the page's body).
struct QueueList {
    w: &'static Words,
    csrf: String,
    store: String,
    parts: Vec<Part>,
    conflicts: i64,
}

#[derive(Template)]
#[template(path = "queue_list.html")]
struct QueueFragment {
    list: QueueList,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    frame: Frame,
    stores: Vec<(String, String, bool)>,
    store: String,
    done: bool,
    list: QueueList,
}

#[derive(Debug, Deserialize)]
struct StoreQuery {
    store: Option<String>,
    done: Option<u8>,
}

/// The store asked, or the user's first.
async fn chosen_store(
    s: &AppState,
    staff: &Staff,
    asked: Option<&str>,
) -> Result<(Vec<Location>, Location), ConsoleError> {
    app::work_queue::pick_store(&s.db, staff.principal(), asked)
        .await
        .map_err(|e| staff.error(e))
}

async fn list_of(s: &AppState, staff: &Staff, place: &Location) -> Result<QueueList, ConsoleError> {
    let now = app::clock::now();
    let q = app::work_queue::of_store(&s.db, staff.principal(), &place.code, now)
        .await
        .map_err(|e| staff.error(e))?;
    Ok(QueueList {
        w: staff.words,
        csrf: staff.session.csrf.clone(),
        store: place.code.clone(),
        parts: parts(&q, place, staff.words),
        conflicts: q.open_conflicts,
    })
}

async fn queue_page(
    State(s): State<AppState>,
    staff: Staff,
    Query(q): Query<StoreQuery>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::WorkQueue)?;
    let (stores, place) = chosen_store(&s, &staff, q.store.as_deref()).await?;
    let list = list_of(&s, &staff, &place).await?;
    let title = format!("{} — {}", staff.words.queue_title, place.name);
    let page = QueuePage {
        frame: Frame::of(&staff, Section::WorkQueue, &title),
        stores: stores
            .iter()
            .map(|l| (l.code.clone(), l.name.clone(), l.code == place.code))
            .collect(),
        store: place.code.clone(),
        done: q.done == Some(1),
        list,
    };
    Ok(page::html(StatusCode::OK, &page))
}

/// The queue's lists alone: what the live view swaps in when the queue changed.
async fn queue_list(
    State(s): State<AppState>,
    staff: Staff,
    Query(q): Query<StoreQuery>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::WorkQueue)?;
    let (_, place) = chosen_store(&s, &staff, q.store.as_deref()).await?;
    let list = list_of(&s, &staff, &place).await?;
    Ok(page::html(StatusCode::OK, &QueueFragment { list }))
}

/// Server-sent events: `queue` whenever what the store's queue shows changed. Woken by this
/// node's commits, and every 2 s for other nodes' (and for deadlines passing).
async fn queue_events(
    State(s): State<AppState>,
    staff: Staff,
    Query(q): Query<StoreQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ConsoleError> {
    staff.open(Section::WorkQueue)?;
    let (_, place) = chosen_store(&s, &staff, q.store.as_deref()).await?;
    let start = (
        None::<String>,
        s.db.commits(),
        s.db.clone(),
        staff.session.principal.clone(),
        place.code,
    );
    let stream = futures::stream::unfold(
        start,
        |(seen, mut commits, db, principal, code)| async move {
            loop {
                let now = app::clock::now();
                let print = app::work_queue::of_store(&db, &principal, &code, now)
                    .await
                    .map(|q| q.fingerprint())
                    .unwrap_or_default();
                let event = match &seen {
                    // The first look only learns what the page already shows.
                    None => Some(Event::default().event("ready").data("ready")),
                    Some(before) if *before != print => {
                        Some(Event::default().event("queue").data("changed"))
                    }
                    Some(_) => None,
                };
                if let Some(event) = event {
                    return Some((Ok(event), (Some(print), commits, db, principal, code)));
                }
                let _ = tokio::time::timeout(Duration::from_secs(2), commits.changed()).await;
                // Let a burst of commits settle into one reload.
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[derive(Deserialize)]
struct ActForm {
    csrf: String,
    store: String,
    pickup_code: Option<String>,
}

fn back_to(store: &str) -> Response {
    Redirect::to(&format!("/console/queue?store={}&done=1", percent(store))).into_response()
}

async fn move_order(
    s: &AppState,
    staff: &Staff,
    id: String,
    transition: Transition,
    pickup_code: Option<String>,
) -> Result<(), ConsoleError> {
    let req = app::orders::TransitionRequest {
        pickup_code,
        purchase: None,
        pickup_days: s.order_rules.pickup_days,
    };
    let render = page::no_body;
    let p = staff.principal();
    app::orders::transition(&s.db, &*s.payments, p, id, transition, req, None, render)
        .await
        .map(|_| ())
        .map_err(|e| staff.error(e))
}

/// Moves an order on from a button of its row (the code typed for `collect`).
async fn act(
    State(s): State<AppState>,
    staff: Staff,
    Path((id, transition)): Path<(String, String)>,
    Form(f): Form<ActForm>,
) -> Result<Response, ConsoleError> {
    staff.check_form(&f.csrf, Section::WorkQueue)?;
    let transition = Transition::parse(&transition).ok_or_else(|| {
        staff.error(Error::new(
            ErrorCode::NotFound,
            "no such action on an order",
        ))
    })?;
    let code = f.pickup_code.filter(|c| !c.trim().is_empty());
    move_order(&s, &staff, id, transition, code).await?;
    Ok(back_to(&f.store))
}

#[derive(Deserialize)]
struct ScanForm {
    csrf: String,
    store: String,
    scan: String,
}

/// Hands over the order a scanned pickup QR names, proven by the code it carries.
async fn hand_over_scanned(
    State(s): State<AppState>,
    staff: Staff,
    Form(f): Form<ScanForm>,
) -> Result<Response, ConsoleError> {
    staff.check_form(&f.csrf, Section::WorkQueue)?;
    let (order, code) = orders::fulfilment::from_pickup_qr(&f.scan).ok_or_else(|| {
        staff.error(Error::validation(
            "scan",
            "this is not a pickup QR code: type the customer's code on the order's line",
        ))
    })?;
    move_order(&s, &staff, order, Transition::Collect, Some(code)).await?;
    Ok(back_to(&f.store))
}
