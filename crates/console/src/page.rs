//! What every page shares: the frame (title, navigation by role, the user, the CSRF token),
//! rendering, and errors shown as a page in the user's language.

use app::access::Section;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use kernel::Error;

use crate::session::Staff;
use crate::words::Words;

/// One entry of the navigation.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The page around the content.
pub struct Frame {
    pub w: &'static Words,
    pub title: String,
    pub user: String,
    pub role: &'static str,
    pub csrf: String,
    pub nav: Vec<NavLink>,
}

/// Where each section of the console lives.
pub fn href(section: Section) -> &'static str {
    match section {
        Section::WorkQueue => "/console/queue",
        Section::ReturnsDesk => "/console/returns",
        Section::Customers => "/console/customers",
        Section::Kpis => "/console/kpis",
        Section::Promotions => "/console/promotions",
        Section::Stock => "/console/stock",
        Section::Users => "/console/users",
        Section::MergeReviews => "/console/merge-reviews",
        Section::Notifications => "/console/notifications",
    }
}

impl Frame {
    pub fn of(staff: &Staff, here: Section, title: &str) -> Frame {
        let w = staff.words;
        let nav = staff
            .session
            .role
            .sections()
            .iter()
            .map(|s| NavLink {
                href: href(*s),
                label: w.section(*s),
                current: *s == here,
            })
            .collect();
        Frame {
            w,
            title: title.to_owned(),
            user: staff.session.user.name.clone(),
            role: staff.session.role.as_str(),
            csrf: staff.session.csrf.clone(),
            nav,
        }
    }
}

/// A rendered page with the console's headers: never cached, never framed.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut response = (status, Html(body)).into_response();
            let h = response.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "a console page did not render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login<'a> {
    w: &'static Words,
    next: &'a str,
    error: Option<&'a str>,
}

pub fn login(w: &'static Words, next: &str, error: Option<&str>, status: StatusCode) -> Response {
    html(status, &Login { w, next, error })
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    w: &'static Words,
    message: &'a str,
    code: &'a str,
}

/// A refusal or failure shown as a page, with the status the API would answer.
pub struct ConsoleError(pub Error, pub &'static Words);

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // 5xx messages are not shown: causes are logged, like the API's opaque bodies.
        let message = if status.is_server_error() {
            tracing::error!(error = %self.0.message, "console request failed");
            "—".to_owned()
        } else {
            self.0.message.clone()
        };
        html(
            status,
            &ErrorPage {
                w: self.1,
                message: &message,
                code: self.0.code.as_str(),
            },
        )
    }
}

/// Money for people: `12,50 EUR` in French, `12.50 EUR` in English.
pub fn money(minor: i64, currency: kernel::Currency, w: &Words) -> String {
    let m = kernel::Money::new(minor, currency);
    let text = m.display();
    if w.lang == "fr" {
        text.replace('.', ",")
    } else {
        text
    }
}

/// An instant in a store's time zone, `dd/mm HH:MM` (fr) or `mm/dd HH:MM` (en).
pub fn local_time(at: kernel::Timestamp, time_zone: &str, w: &Words) -> String {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let Ok(instant) = jiff::Timestamp::from_millisecond(at.unix_ms()) else {
        return at.to_text();
    };
    let local = instant.to_zoned(tz);
    let pattern = if w.lang == "fr" {
        "%d/%m %H:%M"
    } else {
        "%m/%d %H:%M"
    };
    local.strftime(pattern).to_string()
}

/// What a console write keeps as its idempotent answer: nothing (the page is rendered from
/// the value the use case answers, or the browser is sent back to the list).
pub fn no_body(_: impl Sized) -> store::StoredResponse {
    store::StoredResponse {
        status: 200,
        body: String::new(),
        replayed: false,
    }
}
