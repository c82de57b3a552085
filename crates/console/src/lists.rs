//! The console's list pages, one table each: promotions (switched on and off by marketers,
//! each with its coupon codes),
//! merge reviews (decided by service agents) and the notification send log.

use api::AppState;
use app::access::Section;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use kernel::PageRequest;
use serde::Deserialize;

use crate::page::{self, ConsoleError, Frame};
use crate::session::Staff;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/promotions", get(promotions))
        .route("/console/promotions/{id}/active", post(switch_promotion))
        .route("/console/merge-reviews", get(reviews))
        .route("/console/merge-reviews/{id}", post(decide_review))
        .route("/console/notifications", get(notifications))
}

/// A button of a row: a form posting `fields` (and the CSRF token) to `action`.
pub struct Action {
    pub action: String,
    pub label: &'static str,
    pub class: &'static str,
    pub fields: Vec<(&'static str, String)>,
}

pub struct Row {
    pub cells: Vec<String>,
    pub actions: Vec<Action>,
    /// Pages about the row: (href, label).
    pub links: Vec<(String, &'static str)>,
}

#[derive(Template)]
#[template(path = "table.html")]
struct TablePage {
    frame: Frame,
    id: &'static str,
    head: Vec<&'static str>,
    rows: Vec<Row>,
    has_actions: bool,
    done: bool,
}

#[derive(Debug, Default, Deserialize)]
struct Done {
    done: Option<u8>,
}

fn table(
    staff: &Staff,
    section: Section,
    (id, head): (&'static str, Vec<&'static str>),
    rows: Vec<Row>,
    done: &Done,
) -> Response {
    let page = TablePage {
        frame: Frame::of(staff, section, staff.words.section(section)),
        has_actions: rows
            .iter()
            .any(|r| !r.actions.is_empty() || !r.links.is_empty()),
        id,
        head,
        rows,
        done: done.done == Some(1),
    };
    page::html(StatusCode::OK, &page)
}

fn when(t: kernel::Timestamp, staff: &Staff) -> String {
    page::local_time(t, "Europe/Paris", staff.words)
}

async fn promotions(
    State(s): State<AppState>,
    staff: Staff,
    Query(done): Query<Done>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::Promotions)?;
    let w = staff.words;
    let all =
        PageRequest::parse(Some(kernel::page::MAX_LIMIT), None).map_err(|e| staff.error(e))?;
    let found = app::promotions::list(&s.db, false, &all)
        .await
        .map_err(|e| staff.error(e))?;
    let rows = found
        .data
        .into_iter()
        .map(|p| {
            let (label, class, to) = match p.active {
                true => (w.say("Arrêter", "Switch off"), "cancel", "false"),
                false => (w.say("Activer", "Switch on"), "on", "true"),
            };
            Row {
                cells: vec![
                    p.name.clone(),
                    p.priority.to_string(),
                    w.say(
                        if p.active { "active" } else { "arrêtée" },
                        if p.active { "on" } else { "off" },
                    )
                    .to_owned(),
                    when(p.updated_at, &staff),
                ],
                actions: vec![Action {
                    action: format!("/console/promotions/{}/active", p.id),
                    label,
                    class,
                    fields: vec![("active", to.to_owned())],
                }],
                links: vec![(
                    format!("/console/promotions/{}/coupons", p.id),
                    w.say("Codes", "Codes"),
                )],
            }
        })
        .collect();
    let head = vec![
        w.say("Promotion", "Promotion"),
        w.say("Priorité", "Priority"),
        w.state,
        w.say("Modifiée", "Changed"),
    ];
    Ok(table(
        &staff,
        Section::Promotions,
        ("promotions", head),
        rows,
        &done,
    ))
}

#[derive(Deserialize)]
struct SwitchForm {
    csrf: String,
    active: bool,
}

async fn switch_promotion(
    State(s): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<SwitchForm>,
) -> Result<Response, ConsoleError> {
    staff.check_form(&f.csrf, Section::Promotions)?;
    let patch = promotions::PromotionPatch {
        active: Some(f.active),
        ..Default::default()
    };
    let render = page::no_body;
    app::promotions::update(&s.reference, staff.principal(), id, patch, None, render)
        .await
        .map_err(|e| staff.error(e))?;
    Ok(Redirect::to("/console/promotions?done=1").into_response())
}

async fn reviews(
    State(s): State<AppState>,
    staff: Staff,
    Query(done): Query<Done>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::MergeReviews)?;
    let w = staff.words;
    let first = PageRequest::parse(Some(100), None).map_err(|e| staff.error(e))?;
    let open = app::reports::merge_reviews(&s.db, staff.principal(), "open", &first)
        .await
        .map_err(|e| staff.error(e))?;
    let rows = open
        .data
        .into_iter()
        .map(|r| {
            let decide = |merge: bool, label, class| Action {
                action: format!("/console/merge-reviews/{}", r.id),
                label,
                class,
                fields: vec![("merge", merge.to_string())],
            };
            let ids: Vec<String> = r
                .identifiers
                .iter()
                .map(|i| format!("{}:{}", i.kind.as_str(), i.value))
                .collect();
            Row {
                cells: vec![
                    r.customer_a.clone(),
                    r.customer_b.clone(),
                    r.reason.as_str().to_owned(),
                    ids.join(", "),
                    when(r.created_at, &staff),
                ],
                actions: vec![
                    decide(true, w.say("Fusionner", "Merge"), "on"),
                    decide(false, w.say("Écarter", "Dismiss"), "cancel"),
                ],
                links: vec![],
            }
        })
        .collect();
    let head = vec![
        w.say("Client A", "Customer A"),
        w.say("Client B", "Customer B"),
        w.say("Raison", "Reason"),
        w.say("Identifiants", "Identifiers"),
        "Date",
    ];
    Ok(table(
        &staff,
        Section::MergeReviews,
        ("reviews", head),
        rows,
        &done,
    ))
}

#[derive(Deserialize)]
struct DecideForm {
    csrf: String,
    merge: bool,
}

async fn decide_review(
    State(s): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<DecideForm>,
) -> Result<Response, ConsoleError> {
    staff.check_form(&f.csrf, Section::MergeReviews)?;
    let render = page::no_body;
    app::customers::decide_review(&s.db, staff.principal(), id, f.merge, None, render)
        .await
        .map_err(|e| staff.error(e))?;
    Ok(Redirect::to("/console/merge-reviews?done=1").into_response())
}

async fn notifications(
    State(s): State<AppState>,
    staff: Staff,
    Query(done): Query<Done>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::Notifications)?;
    let w = staff.words;
    let log = app::notifications::log(&s.db, staff.principal(), Default::default(), 200)
        .await
        .map_err(|e| staff.error(e))?;
    let rows = log
        .into_iter()
        .map(|n| Row {
            cells: vec![
                when(n.created_at, &staff),
                n.rule.as_str().to_owned(),
                n.customer_id,
                n.medium.unwrap_or_default(),
                n.status,
                n.title.or(n.reason).unwrap_or_default(),
            ],
            actions: vec![],
            links: vec![],
        })
        .collect();
    let head = vec![
        "Date",
        w.say("Règle", "Rule"),
        w.customer_col,
        w.say("Canal", "Medium"),
        w.state,
        w.say("Objet ou raison", "Subject or reason"),
    ];
    Ok(table(
        &staff,
        Section::Notifications,
        ("notifications", head),
        rows,
        &done,
    ))
}
