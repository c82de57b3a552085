//! Clienteling: find a customer by e-mail, phone or card, and see their card — identity,
//! consents, orders on every channel, an open cart, points, credits and latest history —
//! as far as the user's role may see (the API's rules) — and note a call, an e-mail or a
//! visit in their service history.

use api::AppState;
use app::access::Section;
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use customers::interaction::{Direction, InteractionMedium};
use serde::Deserialize;

use crate::page::{self, ConsoleError, Frame};
use crate::session::{Staff, percent};
use crate::words::Words;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/customers", get(search))
        .route("/console/customers/{id}", get(card))
        .route(
            "/console/customers/{id}/interactions",
            post(record_interaction),
        )
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
    note: NoteForm,
}

/// The form noting an interaction: where it happened and, for staff, which store (if any).
pub struct NoteForm {
    pub customer_id: String,
    pub media: Vec<(&'static str, &'static str)>,
    pub stores: Vec<(String, String)>,
    /// Staff may note an exchange that belongs to no store.
    pub any_store: bool,
    pub done: bool,
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

fn medium_label(m: InteractionMedium, w: &Words) -> &'static str {
    match m {
        InteractionMedium::Email => "e-mail",
        InteractionMedium::Phone => w.say("téléphone", "phone"),
        InteractionMedium::Chat => "chat",
        InteractionMedium::StoreVisit => w.say("visite en magasin", "store visit"),
        InteractionMedium::Social => w.say("réseau social", "social"),
    }
}

fn card_page(staff: &Staff, c: app::clienteling::Card, note: NoteForm) -> CardPage {
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
        note,
    }
}

async fn card(
    State(s): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<CardQuery>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::Customers)?;
    let p = staff.principal();
    let c = app::clienteling::card(&s.db, p, &id)
        .await
        .map_err(|e| staff.error(e))?;
    let (stores, any_store) = app::customers::interaction_places(&s.db, p)
        .await
        .map_err(|e| staff.error(e))?;
    let note = NoteForm {
        customer_id: c.profile.id.clone(),
        media: InteractionMedium::ALL
            .iter()
            .map(|m| (m.as_str(), medium_label(*m, staff.words)))
            .collect(),
        stores: stores.into_iter().map(|l| (l.code, l.name)).collect(),
        any_store,
        done: q.done == Some(1),
    };
    Ok(page::html(StatusCode::OK, &card_page(&staff, c, note)))
}

#[derive(Debug, Default, Deserialize)]
struct CardQuery {
    done: Option<u8>,
}

#[derive(Deserialize)]
struct InteractionForm {
    csrf: String,
    medium: String,
    direction: String,
    summary: String,
    store: Option<String>,
    references: Option<String>,
}

fn interaction_of(
    staff: &Staff,
    f: InteractionForm,
) -> Result<customers::Interaction, kernel::Error> {
    use kernel::Error;
    let medium = InteractionMedium::parse(&f.medium)
        .ok_or_else(|| Error::validation("medium", "choose where it happened"))?;
    let direction = Direction::parse(&f.direction)
        .ok_or_else(|| Error::validation("direction", "choose who spoke first"))?;
    let summary = customers::interaction::validate_summary(&f.summary)?;
    let references: Vec<String> = f
        .references
        .unwrap_or_default()
        .split([' ', ','])
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    customers::interaction::validate_references(&references)?;
    let now = kernel::Timestamp::now();
    Ok(customers::Interaction {
        id: kernel::id::new_id("int"),
        customer_id: String::new(),
        medium,
        direction,
        summary,
        agent: Some(staff.session.user.name.clone()),
        location_code: f.store.filter(|s| !s.is_empty()),
        references,
        occurred_at: now,
        recorded_at: now,
    })
}

/// Notes a call, an e-mail, a chat or a visit in the customer's service history, under the
/// user's name.
async fn record_interaction(
    State(s): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<InteractionForm>,
) -> Result<Response, ConsoleError> {
    staff.check_form(&f.csrf, Section::Customers)?;
    let interaction = interaction_of(&staff, f).map_err(|e| staff.error(e))?;
    app::customers::record_interaction(
        &s.db,
        staff.principal(),
        &id,
        interaction,
        None,
        page::no_body,
    )
    .await
    .map_err(|e| staff.error(e))?;
    let back = format!("/console/customers/{}?done=1#note-title", percent(&id));
    Ok(Redirect::to(&back).into_response())
}
