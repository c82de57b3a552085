//! Console users, for admins: who has access, with which role and stores; a new user; a user
//! switched off (their sessions end) or on again. The same use cases as `/v1/staff-users`.

use api::AppState;
use app::access::{Section, StaffRole};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use kernel::PageRequest;
use serde::Deserialize;

use crate::lists::{Action, Row};
use crate::page::{self, ConsoleError, Frame};
use crate::session::Staff;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/users", get(users).post(create))
        .route("/console/users/{id}/active", post(switch))
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    frame: Frame,
    rows: Vec<Row>,
    roles: Vec<&'static str>,
    done: bool,
}

#[derive(Debug, Default, Deserialize)]
struct Done {
    done: Option<u8>,
}

async fn users(
    State(s): State<AppState>,
    staff: Staff,
    Query(done): Query<Done>,
) -> Result<Response, ConsoleError> {
    staff.open(Section::Users)?;
    let w = staff.words;
    let all =
        PageRequest::parse(Some(kernel::page::MAX_LIMIT), None).map_err(|e| staff.error(e))?;
    let found = app::staff::list(&s.db, staff.principal(), &all)
        .await
        .map_err(|e| staff.error(e))?;
    let rows = found
        .data
        .into_iter()
        .map(|u| {
            let (label, class, to) = match u.active {
                true => (w.say("Désactiver", "Switch off"), "cancel", "false"),
                false => (w.say("Réactiver", "Switch on"), "on", "true"),
            };
            Row {
                cells: vec![
                    u.name,
                    u.email,
                    u.role,
                    u.stores.join(" "),
                    u.language,
                    if u.active { "✓".into() } else { "—".into() },
                ],
                actions: vec![Action {
                    action: format!("/console/users/{}/active", u.id),
                    label,
                    class,
                    fields: vec![("active", to.to_owned())],
                }],
                links: vec![],
            }
        })
        .collect();
    let page = UsersPage {
        frame: Frame::of(&staff, Section::Users, w.section(Section::Users)),
        rows,
        roles: StaffRole::ALL.iter().map(|r| r.as_str()).collect(),
        done: done.done == Some(1),
    };
    Ok(page::html(StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct NewUserForm {
    csrf: String,
    email: String,
    name: String,
    role: String,
    stores: String,
    language: String,
    password: String,
}

async fn create(
    State(s): State<AppState>,
    staff: Staff,
    Form(f): Form<NewUserForm>,
) -> Result<Response, ConsoleError> {
    staff.check_form(&f.csrf, Section::Users)?;
    let new = app::staff::NewUser {
        email: f.email,
        name: f.name,
        role: f.role,
        stores: f
            .stores
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        language: Some(f.language),
        password: f.password,
    };
    app::staff::create(&s.db, staff.principal(), new, None, page::no_body)
        .await
        .map_err(|e| staff.error(e))?;
    Ok(Redirect::to("/console/users?done=1").into_response())
}

#[derive(Deserialize)]
struct SwitchForm {
    csrf: String,
    active: bool,
}

/// Switches a user off (their sessions end) or on, keeping the rest as it is.
async fn switch(
    State(s): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<SwitchForm>,
) -> Result<Response, ConsoleError> {
    staff.check_form(&f.csrf, Section::Users)?;
    let p = staff.principal();
    let user = app::staff::get(&s.db, p, &id)
        .await
        .map_err(|e| staff.error(e))?;
    let change = app::staff::Change {
        name: user.name,
        role: user.role,
        stores: user.stores,
        language: user.language,
        active: f.active,
        password: None,
    };
    app::staff::update(
        &s.db,
        p,
        (id, Some(user.version)),
        change,
        None,
        page::no_body,
    )
    .await
    .map_err(|e| staff.error(e))?;
    Ok(Redirect::to("/console/users?done=1").into_response())
}
