//! A promotion's coupon codes in the console: the codes made so far (how often each was used,
//! to whom one was issued), a form to make one typed code or a batch of generated ones, and
//! the codes as CSV to hand out — through the same use cases as
//! `/v1/promotions/{id}/coupons`.

use api::AppState;
use app::access::Section;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use kernel::{Error, PageRequest};
use promotions::Coupon;
use serde::Deserialize;

use crate::page::{self, ConsoleError, Frame};
use crate::session::Staff;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/promotions/{id}/coupons", get(codes).post(make))
        .route("/console/promotions/{id}/coupons.csv", get(csv))
}

/// A code as a row.
pub struct CodeRow {
    pub code: String,
    pub uses: String,
    pub holder: String,
    pub made: String,
}

#[derive(Template)]
#[template(path = "coupons.html")]
struct CodesPage {
    frame: Frame,
    promotion_id: String,
    codes: Vec<CodeRow>,
    made: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
struct Made {
    made: Option<usize>,
}

/// The promotion's codes, oldest first: the first 500, or `every` one (for the CSV).
async fn codes_of(
    s: &AppState,
    staff: &Staff,
    id: &str,
    every: bool,
) -> Result<Vec<Coupon>, ConsoleError> {
    let mut codes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = PageRequest::parse(Some(kernel::page::MAX_LIMIT), cursor.as_deref())
            .map_err(|e| staff.error(e))?;
        let found = app::coupons::list(&s.db, staff.principal(), id, None, &page)
            .await
            .map_err(|e| staff.error(e))?;
        codes.extend(found.data);
        match found.next_cursor {
            Some(next) if every => cursor = Some(next),
            _ => return Ok(codes),
        }
    }
}

async fn codes(
    State(s): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<Made>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::Promotions)?;
    let (promotion, _) = app::promotions::get(&s.db, &id)
        .await
        .map_err(|e| staff.error(e))?;
    let w = staff.words;
    let codes = codes_of(&s, &staff, &id, false)
        .await?
        .into_iter()
        .map(|c| CodeRow {
            uses: format!("{} / {}", c.uses, c.max_uses),
            holder: c.customer_id.unwrap_or_default(),
            made: page::local_time(c.created_at, "Europe/Paris", w),
            code: c.code,
        })
        .collect();
    let page = CodesPage {
        frame: Frame::of(
            &staff,
            Section::Promotions,
            &format!("{} — {}", w.say("Codes", "Codes"), promotion.name),
        ),
        promotion_id: id,
        codes,
        made: q.made,
    };
    Ok(page::html(StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct MakeForm {
    csrf: String,
    code: Option<String>,
    count: Option<String>,
    prefix: Option<String>,
    max_uses: String,
    max_uses_per_customer: Option<String>,
}

/// A whole number typed in a field, or a clear 422 naming it.
fn number(field: &'static str, typed: &str) -> Result<i64, Error> {
    typed
        .trim()
        .parse()
        .map_err(|_| Error::validation(field, "a whole number is expected"))
}

fn new_coupons(f: MakeForm) -> Result<app::coupons::NewCoupons, Error> {
    let typed = f
        .code
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let count = match (&typed, f.count.as_deref().map(str::trim)) {
        (Some(_), _) | (None, None | Some("")) => 1,
        (None, Some(n)) => number("count", n)?,
    };
    let per_customer = match f.max_uses_per_customer.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(number("max_uses_per_customer", n)?),
    };
    Ok(app::coupons::NewCoupons {
        code: typed,
        count,
        prefix: f.prefix.unwrap_or_default(),
        max_uses: number("max_uses", &f.max_uses)?,
        max_uses_per_customer: per_customer,
        customer_id: None,
    })
}

async fn make(
    State(s): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<MakeForm>,
) -> Result<Response, ConsoleError> {
    staff.check_form(&f.csrf, Section::Promotions)?;
    let new = new_coupons(f).map_err(|e| staff.error(e))?;
    let count = new.count as usize;
    app::coupons::create(
        &s.db,
        staff.principal(),
        id.clone(),
        new,
        None,
        page::no_body,
    )
    .await
    .map_err(|e| staff.error(e))?;
    let back = format!(
        "/console/promotions/{}/coupons?made={count}",
        crate::session::percent(&id)
    );
    Ok(Redirect::to(&back).into_response())
}

/// Every code as CSV (code, uses, limit, issued to, made at), to hand out or print.
async fn csv(
    State(s): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::Promotions)?;
    let mut body = String::from("code,uses,max_uses,customer_id,created_at\n");
    for c in codes_of(&s, &staff, &id, true).await? {
        let holder = c.customer_id.unwrap_or_default();
        body.push_str(&format!(
            "{},{},{},{holder},{}\n",
            c.code,
            c.uses,
            c.max_uses,
            c.created_at.to_text()
        ));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"relais-coupons.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}
