//! Clienteling: find a customer by e-mail, phone or card, and see their card — identity,
//! consents, orders on every channel, an open cart, points, credits and latest history —
//! as far as the user's role may see (the API's rules).

use api::AppState;
use app::access::Section;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::page::{self, ConsoleError, Frame};
use crate::session::{Staff, percent};
use crate::words::Words;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/customers", get(search))
        .route("/console/customers/{id}", get(card))
}

#[derive(Template)]
#[template(path = "customers.html")]
struct SearchPage {
    frame: Frame,
    q: String,
    not_found: bool,
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

async fn search(
    State(s): State<AppState>,
    staff: Staff,
    Query(q): Query<SearchQuery>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::Customers)?;
    let typed = q.q.unwrap_or_default();
    let mut not_found = false;
    if !typed.trim().is_empty() {
        let found = app::clienteling::find(&s.db, staff.principal(), &typed, &s.phones)
            .await
            .map_err(|e| staff.error(e))?;
        match found {
            Some(id) => {
                return Ok(
                    Redirect::to(&format!("/console/customers/{}", percent(&id))).into_response(),
                );
            }
            None => not_found = true,
        }
    }
    let page = SearchPage {
        frame: Frame::of(&staff, Section::Customers, staff.words.customers_title),
        q: typed,
        not_found,
    };
    let status = if not_found {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok(page::html(status, &page))
}

/// A line of the card: a label and what it says.
pub struct Fact {
    pub label: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "customer.html")]
struct CardPage {
    frame: Frame,
    facts: Vec<Fact>,
    consents: Vec<Fact>,
    orders: Vec<Vec<String>>,
    cart: Option<String>,
    loyalty: Option<String>,
    stored_value: Vec<String>,
    timeline: Vec<Vec<String>>,
}

fn when(t: kernel::Timestamp, w: &Words) -> String {
    page::local_time(t, "Europe/Paris", w)
}

fn identity_facts(c: &app::clienteling::Card, w: &Words) -> Vec<Fact> {
    let p = &c.profile;
    let mut facts = vec![Fact {
        label: "id".into(),
        value: p.id.clone(),
    }];
    if let Some(home) = &p.home_store {
        facts.push(Fact {
            label: w.store.into(),
            value: home.clone(),
        });
    }
    facts.extend(c.identities.iter().map(|i| Fact {
        label: i.identifier.kind.as_str().into(),
        value: format!(
            "{}{}",
            i.identifier.value,
            if i.verified { " ✓" } else { "" }
        ),
    }));
    facts
}

fn consent_facts(c: &app::clienteling::Card, w: &Words) -> Vec<Fact> {
    c.consents
        .iter()
        .map(|r| Fact {
            label: format!(
                "{} ({})",
                r.purpose.as_str(),
                r.channel.as_deref().unwrap_or("*")
            ),
            value: format!("{} — {}", r.status.as_str(), when(r.recorded_at, w)),
        })
        .collect()
}

fn order_rows(c: &app::clienteling::Card, w: &Words) -> Vec<Vec<String>> {
    c.orders
        .iter()
        .map(|o| {
            vec![
                o.id.clone(),
                o.channel.clone(),
                w.mode(o.mode).to_owned(),
                w.state(o.state).to_owned(),
                o.location.clone().unwrap_or_default(),
                page::money(o.total_minor, o.currency, w),
                when(o.created_at, w),
            ]
        })
        .collect()
}

fn card_page(staff: &Staff, c: app::clienteling::Card) -> CardPage {
    let w = staff.words;
    let p = &c.profile;
    let name = [p.given_name.as_deref(), p.family_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let cart = c.open_cart.as_ref().map(|cart| {
        let lines: Vec<String> = cart
            .lines
            .iter()
            .map(|l| format!("{} × {}", l.quantity, l.sku))
            .collect();
        format!(
            "{} — {} ({})",
            cart.channel,
            lines.join(", "),
            when(cart.updated_at, w)
        )
    });
    let stored_value = c
        .stored_value
        .iter()
        .map(|a| {
            let (left, of) = (
                page::money(a.balance_minor, a.currency, w),
                page::money(a.amount_minor, a.currency, w),
            );
            format!(
                "{} {} — {left} / {of}",
                a.kind.as_str(),
                a.code_hint.as_deref().unwrap_or("")
            )
        })
        .collect();
    let timeline = c
        .timeline
        .iter()
        .map(|t| {
            vec![
                when(t.at, w),
                t.kind.clone(),
                t.channel.clone().unwrap_or_default(),
                t.title.clone(),
            ]
        })
        .collect();
    let title = if name.is_empty() { p.id.clone() } else { name };
    CardPage {
        frame: Frame::of(staff, Section::Customers, &title),
        facts: identity_facts(&c, w),
        consents: consent_facts(&c, w),
        orders: order_rows(&c, w),
        loyalty: c
            .member
            .as_ref()
            .map(|m| format!("{} — {} points", m.tier, m.balance)),
        cart,
        stored_value,
        timeline,
    }
}

async fn card(
    State(s): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::Customers)?;
    let c = app::clienteling::card(&s.db, staff.principal(), &id)
        .await
        .map_err(|e| staff.error(e))?;
    Ok(page::html(StatusCode::OK, &card_page(&staff, c)))
}
