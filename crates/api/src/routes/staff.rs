//! `/v1/staff-users`: the console's users (admin). Passwords go in, never come out.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use kernel::Timestamp;
use serde::{Deserialize, Serialize};
use store::staff::StaffUser;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, PageParams, reply, stored, stored_version, wire_enum};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::precondition::{self, with_etag};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
}

wire_enum!(
    /// A console user's role.
    StaffRoleDto <=> app::access::StaffRole { Admin, StoreManager, Associate, ServiceAgent, Marketer }
);

impl StaffRoleDto {
    fn as_str(self) -> &'static str {
        app::access::StaffRole::from(self).as_str()
    }
}

/// The console's language for a user.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleLanguage {
    Fr,
    En,
}

impl ConsoleLanguage {
    fn as_str(self) -> &'static str {
        match self {
            ConsoleLanguage::Fr => "fr",
            ConsoleLanguage::En => "en",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaffUser {
    /// The sign-in name (kept in lower case; unique).
    #[schema(example = "claire.martin@example.fr", max_length = 254)]
    pub email: String,
    #[schema(example = "Claire Martin", min_length = 1, max_length = 100)]
    pub name: String,
    pub role: StaffRoleDto,
    /// Location codes: one at least for store managers and associates, none for the others.
    #[serde(default)]
    #[schema(example = json!(["LYS-BELLECOUR"]))]
    pub stores: Vec<String>,
    /// `fr` by default.
    pub language: Option<ConsoleLanguage>,
    /// 10 to 200 characters; kept as an argon2id hash.
    #[schema(min_length = 10, max_length = 200, format = Password)]
    pub password: String,
}

/// Changes to a user: only the fields given. A new `password` resets it (and unlocks the
/// user); a new password or `active: false` ends the user's sessions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchStaffUser {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    pub role: Option<StaffRoleDto>,
    pub stores: Option<Vec<String>>,
    pub language: Option<ConsoleLanguage>,
    pub active: Option<bool>,
    #[schema(min_length = 10, max_length = 200, format = Password)]
    pub password: Option<String>,
    /// The version read (or send `If-Match`): a user changed meanwhile is a 409 (412 with
    /// `If-Match`).
    pub expected_version: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffUserDto {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub stores: Vec<String>,
    pub language: String,
    pub active: bool,
    /// Wrong passwords in a row (five lock the user for 15 minutes).
    pub failed_logins: i64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub locked_until: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    pub version: i64,
}

super::page_of!(StaffUserPage, StaffUserDto);

fn dto(u: StaffUser) -> StaffUserDto {
    StaffUserDto {
        id: u.id,
        email: u.email,
        name: u.name,
        role: u.role,
        stores: u.stores,
        language: u.language,
        active: u.active,
        failed_logins: u.failed_logins,
        locked_until: u.locked_until,
        created_at: u.created_at,
        updated_at: u.updated_at,
        version: u.version,
    }
}

/// List the console's users (admin).
#[utoipa::path(get, path = "/v1/staff-users", tag = "access", params(PageParams),
    responses((status = 200, body = StaffUserPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_users(
    State(s): State<AppState>,
    p: Principal,
    Q(q): Q<PageParams>,
) -> ApiResult<Json<StaffUserPage>> {
    let found = app::staff::list(&s.db, &p, &q.request()?).await?;
    Ok(Json(found.map(dto).into()))
}

/// Create a console user (admin), with `relais.staff_user.created`.
#[utoipa::path(post, path = "/v1/staff-users", tag = "access", request_body = CreateStaffUser,
    params(IdempotencyHeader),
    responses((status = 201, body = StaffUserDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_user(State(s): State<AppState>, w: Write<CreateStaffUser>) -> ApiResult<Response> {
    let b = w.body;
    let new = app::staff::NewUser {
        email: b.email,
        name: b.name,
        role: b.role.as_str().to_owned(),
        stores: b.stores,
        language: b.language.map(|l| l.as_str().to_owned()),
        password: b.password,
    };
    let render = |u| stored(201, &dto(u));
    let response = app::staff::create(&s.db, &w.principal, new, w.idempotency, render).await?;
    let version = stored_version(&response);
    Ok(with_etag(reply(response), version))
}

/// One console user (admin).
#[utoipa::path(get, path = "/v1/staff-users/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 200, body = StaffUserDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_user(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let user = app::staff::get(&s.db, &p, &id).await?;
    let version = user.version;
    Ok(with_etag(Json(dto(user)).into_response(), Some(version)))
}

/// Change a console user (admin): role, stores, language, active, or a new password. An admin
/// cannot deactivate or demote itself.
#[utoipa::path(patch, path = "/v1/staff-users/{id}", tag = "access", request_body = PatchStaffUser,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = StaffUserDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_user(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    w: Write<PatchStaffUser>,
) -> ApiResult<Response> {
    let b = w.body;
    let (expected, by_header) = precondition::expected_version(&headers, b.expected_version)?;
    let now = app::staff::get(&s.db, &w.principal, &id).await?;
    // Unnamed fields keep what was read; the write is conditional on that read's version.
    let change = app::staff::Change {
        name: b.name.unwrap_or(now.name),
        role: b.role.map_or(now.role, |r| r.as_str().to_owned()),
        stores: b.stores.unwrap_or(now.stores),
        language: b.language.map_or(now.language, |l| l.as_str().to_owned()),
        active: b.active.unwrap_or(now.active),
        password: b.password,
    };
    let target = (id, Some(expected.unwrap_or(now.version)));
    let render = |u| stored(200, &dto(u));
    let response = app::staff::update(&s.db, &w.principal, target, change, w.idempotency, render)
        .await
        .map_err(|e| precondition::from_if_match(e, by_header))?;
    let version = stored_version(&response);
    Ok(with_etag(reply(response), version))
}
