//! Console users and their sessions in SQL.
//!
//! A user's password is kept as an argon2id hash made by `app` before the command; a session
//! is found by the SHA-256 of its random token. Wrong passwords count up on the user's row;
//! the count that reaches the limit sets `locked_until` in the same conditional write, so two
//! nodes counting failures at once never lose one. A password reset or a deactivation ends
//! every session of the user in the same command.

use kernel::{Error, ErrorCode, Page, PageRequest, Timestamp};
use outbox::Event;
use outbox::payloads::{StaffUserChanged, StaffUserLocked};
use serde::Serialize;

use crate::sql::{Conn, Row};
use crate::{Db, events, params, rows};

/// A console user (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffUser {
    pub id: String,
    /// Lower case: the sign-in name.
    pub email: String,
    pub name: String,
    /// `admin`, `store_manager`, `associate`, `service_agent` or `marketer`.
    pub role: String,
    /// The location codes the user works at.
    pub stores: Vec<String>,
    /// `fr` or `en`: the console's language for this user.
    pub language: String,
    pub active: bool,
    pub failed_logins: i64,
    pub locked_until: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

/// What an update sets: the whole of the user but its e-mail, and a new password hash or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChange {
    pub name: String,
    pub role: String,
    pub stores: Vec<String>,
    pub language: String,
    pub active: bool,
    pub password_hash: Option<String>,
}

fn from_row(r: &Row) -> Result<StaffUser, Error> {
    Ok(StaffUser {
        id: r.text("id")?,
        email: r.text("email")?,
        name: r.text("name")?,
        role: r.text("role")?,
        stores: r
            .text("stores")?
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        language: r.text("language")?,
        active: r.int("active")? != 0,
        failed_logins: r.int("failed_logins")?,
        locked_until: rows::opt_timestamp(r, "locked_until")?,
        created_at: rows::timestamp(r, "created_at")?,
        updated_at: rows::timestamp(r, "updated_at")?,
        version: r.int("version")?,
    })
}

const COLUMNS: &str = "id, email, name, role, stores, language, active, failed_logins, locked_until, created_at, updated_at, version";

fn changed(u: &StaffUser, password_changed: bool) -> StaffUserChanged {
    StaffUserChanged {
        id: u.id.clone(),
        name: u.name.clone(),
        role: u.role.clone(),
        stores: u.stores.clone(),
        active: u.active,
        password_changed,
    }
}

/// Stores a new user with its password hash, with `relais.staff_user.created`.
pub async fn create(
    conn: &mut Conn,
    u: &StaffUser,
    password_hash: &str,
    actor: &str,
) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO staff_users (id, email, name, role, stores, language, password_hash, active, failed_logins, created_at, updated_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9, 1)",
        params![&u.id, &u.email, &u.name, &u.role, u.stores.join(" "), &u.language, password_hash, i64::from(u.active), u.created_at.to_text()],
    )
    .await
    .map_err(|e| {
        if e.code == ErrorCode::AlreadyExists {
            Error::already_exists("staff user", &u.email).with("field", "email")
        } else {
            e
        }
    })?;
    events::emit(
        conn,
        Event::StaffUserCreated(&changed(u, true)),
        &u.id,
        actor,
    )
    .await
}

/// Sets a user's fields if its version is still `version` (when one is given); a new password
/// or a deactivation ends its sessions. Answers the user as it now is.
pub async fn update(
    conn: &mut Conn,
    (id, version): (&str, Option<i64>),
    change: &UserChange,
    (now, actor): (Timestamp, &str),
) -> Result<StaffUser, Error> {
    let done = conn
        .execute(
            "UPDATE staff_users SET name = $1, role = $2, stores = $3, language = $4, active = $5, \
             password_hash = COALESCE($6, password_hash), \
             failed_logins = CASE WHEN $6 IS NULL THEN failed_logins ELSE 0 END, \
             locked_until = CASE WHEN $6 IS NULL THEN locked_until ELSE NULL END, \
             updated_at = $7, version = version + 1 WHERE id = $8 AND version = COALESCE($9, version)",
            params![&change.name, &change.role, change.stores.join(" "), &change.language, i64::from(change.active), change.password_hash.clone(), now.to_text(), id, version],
        )
        .await?;
    let user = find(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("staff user", id))?;
    if done == 0 {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the user changed since it was read: read it again",
        )
        .with("current_version", user.version));
    }
    if change.password_hash.is_some() || !change.active {
        conn.execute("DELETE FROM staff_sessions WHERE user_id = $1", params![id])
            .await?;
    }
    let payload = changed(&user, change.password_hash.is_some());
    events::emit(conn, Event::StaffUserUpdated(&payload), id, actor).await?;
    Ok(user)
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<StaffUser>, Error> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM staff_users WHERE id = $1"),
        params![id],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// The user signing in as `email` (lower case), with its password hash.
pub async fn for_sign_in(db: &Db, email: &str) -> Result<Option<(StaffUser, String)>, Error> {
    let row = db
        .read()
        .await?
        .query_opt(
            &format!("SELECT {COLUMNS}, password_hash FROM staff_users WHERE email = $1"),
            params![email],
        )
        .await?;
    row.map(|r| Ok((from_row(&r)?, r.text("password_hash")?)))
        .transpose()
}

/// The users in id order.
pub async fn list(db: &Db, page: &PageRequest) -> Result<Page<StaffUser>, Error> {
    let found = db
        .read()
        .await?
        .query(
            &format!("SELECT {COLUMNS} FROM staff_users WHERE id > $1 ORDER BY id LIMIT $2"),
            params![page.after.clone().unwrap_or_default(), page.fetch_limit()],
        )
        .await?;
    let users = found.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(users, page, |u| u.id.clone()))
}

/// Counts a wrong password; the `limit`-th in a row locks the user until `until`, with
/// `relais.staff_user.locked`. Answers the count.
pub async fn record_failure(
    conn: &mut Conn,
    id: &str,
    (limit, until): (i64, Timestamp),
) -> Result<i64, Error> {
    let row = conn
        .query_one(
            "UPDATE staff_users SET failed_logins = failed_logins + 1, \
             locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END \
             WHERE id = $3 RETURNING failed_logins",
            params![limit, until.to_text(), id],
        )
        .await?;
    let failures = row.int("failed_logins")?;
    if failures == limit {
        let locked = StaffUserLocked {
            id: id.to_owned(),
            failed_logins: failures,
            until,
        };
        events::emit(conn, Event::StaffUserLocked(&locked), id, id).await?;
    }
    Ok(failures)
}

/// Opens a session for a user still active and not locked at `now` (the count of wrong
/// passwords starts again); `false` when the user is neither.
pub async fn open_session(
    conn: &mut Conn,
    (user_id, token_hash): (&str, &str),
    (now, expires_at): (Timestamp, Timestamp),
) -> Result<bool, Error> {
    let allowed = conn
        .execute(
            "UPDATE staff_users SET failed_logins = 0, locked_until = NULL \
             WHERE id = $1 AND active = 1 AND (locked_until IS NULL OR locked_until <= $2)",
            params![user_id, now.to_text()],
        )
        .await?;
    if allowed == 0 {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO staff_sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        params![token_hash, user_id, now.to_text(), expires_at.to_text()],
    )
    .await?;
    Ok(true)
}

/// The active user of a session that has not expired at `now`, and when it expires.
pub async fn session_user(
    db: &Db,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<(StaffUser, Timestamp)>, Error> {
    let row = db
        .read()
        .await?
        .query_opt(
            "SELECT u.id, u.email, u.name, u.role, u.stores, u.language, u.active, u.failed_logins, \
             u.locked_until, u.created_at, u.updated_at, u.version, s.expires_at \
             FROM staff_sessions s JOIN staff_users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active = 1",
            params![token_hash, now.to_text()],
        )
        .await?;
    row.map(|r| Ok((from_row(&r)?, rows::timestamp(&r, "expires_at")?)))
        .transpose()
}

/// Ends a session (signing out); ending one already ended is no error.
pub async fn close_session(conn: &mut Conn, token_hash: &str) -> Result<(), Error> {
    conn.execute(
        "DELETE FROM staff_sessions WHERE token_hash = $1",
        params![token_hash],
    )
    .await
    .map(|_| ())
}

/// Forgets sessions that expired before `now`; answers how many.
pub async fn purge_sessions(conn: &mut Conn, now: Timestamp) -> Result<u64, Error> {
    conn.execute(
        "DELETE FROM staff_sessions WHERE expires_at <= $1",
        params![now.to_text()],
    )
    .await
}
