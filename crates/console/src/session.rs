//! Signing in and out, and who is asking: the session cookie, CSRF and origin checks.
//!
//! The cookie holds the session's random token (HttpOnly, SameSite=Strict, path `/console`,
//! `Secure` behind HTTPS); `app::staff` keeps only its hash. Every form carries the session's
//! CSRF token (derived from the session's secret, so another site cannot know it) and every
//! write is refused when the browser says it comes from another origin. Signing in is
//! throttled by `app::staff` (five wrong passwords lock the account for a while).

use api::AppState;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Router, routing::get};
use kernel::Error;
use serde::Deserialize;

use crate::page::{self, ConsoleError};
use crate::words::{self, Words};

pub const COOKIE: &str = "relais_console";

/// The signed-in user of a console request.
pub struct Staff {
    pub session: app::staff::Session,
    pub words: &'static Words,
}

impl Staff {
    pub fn principal(&self) -> &app::Principal {
        &self.session.principal
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, given: &str) -> Result<(), ConsoleError> {
        app::staff::check_csrf(&self.session, given).map_err(|e| self.error(e))
    }

    /// Refuses a section the user's role does not open.
    pub fn open(&self, section: app::access::Section) -> Result<(), ConsoleError> {
        self.session
            .role
            .may_open(section)
            .map_err(|e| self.error(e))
    }

    /// A posted form: its CSRF token checked, and the section it belongs to open.
    pub fn check_form(
        &self,
        csrf: &str,
        section: app::access::Section,
    ) -> Result<(), ConsoleError> {
        self.check_csrf(csrf)?;
        self.open(section)
    }

    pub fn error(&self, e: Error) -> ConsoleError {
        ConsoleError(e, self.words)
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || {
            // Back to the page after signing in; a form posted meanwhile is not posted again.
            let here = match parts.method {
                Method::GET => parts
                    .uri
                    .path_and_query()
                    .map_or("/console", |p| p.as_str()),
                _ => "/console",
            };
            Redirect::to(&format!("/console/login?next={}", percent(here))).into_response()
        };
        let Some(token) = cookie_token(&parts.headers) else {
            return Err(to_login());
        };
        match app::staff::session(&state.db, &token).await {
            Ok(Some(session)) => Ok(Staff {
                words: words::of(&session.user.language),
                session,
            }),
            Ok(None) => Err(to_login()),
            Err(e) => Err(ConsoleError(e, &words::FR).into_response()),
        }
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where to go after signing in: a console page of this site, never elsewhere.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/console") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/console",
    }
}

/// Writes from another origin are refused before anything reads their body: the browser
/// names the origin of every form it posts (`Origin`, `Sec-Fetch-Site`).
pub async fn same_origin_writes(request: Request, next: Next) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let h = request.headers();
        let text = |name: header::HeaderName| h.get(name).and_then(|v| v.to_str().ok());
        let fetch_site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let checked =
            app::staff::check_same_origin(text(header::ORIGIN), text(header::HOST), fetch_site);
        if let Err(e) = checked {
            return ConsoleError(e, &words::FR).into_response();
        }
    }
    next.run(request).await
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    next: Option<String>,
    lang: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
    lang: Option<String>,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/login", get(login_page).post(sign_in))
        .route("/console/logout", axum::routing::post(sign_out))
}

fn words_for(lang: Option<&str>, headers: &HeaderMap) -> &'static Words {
    match lang {
        Some(l) => words::of(l),
        None => words::from_accept_language(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        ),
    }
}

async fn login_page(headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let w = words_for(q.lang.as_deref(), &headers);
    page::login(w, safe_next(q.next.as_deref()), None, StatusCode::OK)
}

/// The address a sign-in comes from, as [`app::throttle::client_address`] reads it from the
/// connection's peer (set by the server) and `X-Forwarded-For`.
pub struct ClientAddress(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        Ok(ClientAddress(app::throttle::client_address(
            peer, forwarded,
        )))
    }
}

async fn sign_in(
    State(s): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let w = words_for(f.lang.as_deref(), &headers);
    let next = safe_next(f.next.as_deref()).to_owned();
    let from = (s.sign_in_throttle.as_ref(), address);
    match app::staff::sign_in(&s.db, from, &f.email, &f.password).await {
        Ok(signed) => {
            let secure = headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes() == b"https");
            let cookie = format!(
                "{COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{}",
                signed.token,
                app::staff::SESSION_HOURS * 3600,
                if secure { "; Secure" } else { "" }
            );
            let mut response = Redirect::to(&next).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(e) => {
            let status =
                StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
            page::login(w, &next, Some(e.message.as_str()), status)
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn sign_out(
    State(s): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(e) = staff.check_csrf(&f.csrf) {
        return e.into_response();
    }
    if let Some(token) = cookie_token(&headers)
        && let Err(e) = app::staff::sign_out(&s.db, &token).await
    {
        return staff.error(e).into_response();
    }
    let mut response = Redirect::to("/console/login").into_response();
    let expired = format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_pages_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/console/queue?store=X")),
            "/console/queue?store=X"
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/v1/orders",
            "/console\\..\\x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/console", "{bad}");
        }
        assert_eq!(safe_next(None), "/console");
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; relais_console=abc; b=2"),
        );
        assert_eq!(cookie_token(&h).as_deref(), Some("abc"));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("relais_consoles=abc"),
        );
        assert_eq!(cookie_token(&h), None);
    }
}
