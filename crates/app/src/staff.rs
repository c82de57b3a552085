//! Console users: named staff with a role and stores, signing in with a password.
//!
//! Admins create and change users (API and CLI). A password is hashed with argon2id on a
//! blocking thread before the command. Signing in checks the password the same slow way
//! whether or not the e-mail is known (so timing tells nothing), counts wrong passwords on
//! the user's row and locks the user for [`LOCK_MINUTES`] after [`MAX_FAILURES`] in a row.
//! A session is a random 256-bit token kept by the browser in an HttpOnly cookie and stored
//! as its SHA-256; it carries the scopes of the user's role ([`StaffRole::scopes`]), so the
//! console reaches exactly what an API key of that kind would, and every change is recorded
//! under the user's id as actor.

use kernel::{Error, ErrorCode, Page, PageRequest, Timestamp};
use sha2::{Digest, Sha256};
use store::staff::{StaffUser, UserChange};
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::{Principal, StaffRole};

/// Wrong passwords in a row that lock a user.
pub const MAX_FAILURES: i64 = 5;
/// How long a locked user waits.
pub const LOCK_MINUTES: i64 = 15;
/// How long a session lasts: a working day.
pub const SESSION_HOURS: i64 = 12;
const MIN_PASSWORD: usize = 10;

/// A user to create, as an admin typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: String,
    pub stores: Vec<String>,
    pub language: Option<String>,
    /// Never logged: [`NewUser`]'s `Debug` is only used in tests.
    pub password: String,
}

/// What an update sets (the whole of the user but its e-mail; a password only to reset it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub name: String,
    pub role: String,
    pub stores: Vec<String>,
    pub language: String,
    pub active: bool,
    pub password: Option<String>,
}

/// A signed-in user: its session's token (for the cookie, shown once) and when it ends.
pub struct SignedIn {
    pub user: StaffUser,
    pub token: String,
    pub expires_at: Timestamp,
}

/// The user behind a session cookie, and what the session may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: StaffUser,
    pub role: StaffRole,
    pub principal: Principal,
    pub expires_at: Timestamp,
    /// The token every form and write of this session must echo (see [`csrf_token`]).
    pub csrf: String,
}

fn email_of(field: &str, raw: &str) -> Result<String, Error> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(Error::validation(field, "give an e-mail address"))
    }
}

fn password_of(password: &str) -> Result<(), Error> {
    let n = password.chars().count();
    if (MIN_PASSWORD..=200).contains(&n) {
        Ok(())
    } else {
        Err(Error::validation(
            "password",
            format!("a password has {MIN_PASSWORD} to 200 characters"),
        ))
    }
}

fn role_of(role: &str, stores: &[String]) -> Result<StaffRole, Error> {
    let parsed = StaffRole::parse(role).ok_or_else(|| {
        Error::validation(
            "role",
            "role is admin, store_manager, associate, service_agent or marketer",
        )
    })?;
    match (parsed.works_at_stores(), stores.is_empty()) {
        (true, true) => Err(Error::validation(
            "stores",
            "a store manager or associate works at one store at least",
        )),
        (false, false) => Err(Error::validation(
            "stores",
            "only store managers and associates are bound to stores",
        )),
        _ => Ok(parsed),
    }
}

fn language_of(language: &str) -> Result<String, Error> {
    match language {
        "fr" | "en" => Ok(language.to_owned()),
        _ => Err(Error::validation("language", "the console speaks fr or en")),
    }
}

/// The stores named, each an active location (read before the command: locations are not
/// deleted, only deactivated, so what was there is still there).
async fn stores_of(db: &Db, stores: &[String]) -> Result<Vec<String>, Error> {
    let mut checked = Vec::with_capacity(stores.len());
    for code in stores {
        let code = catalog::location::validate_location_code("stores", code)?;
        if store::locations::get_location(db, &code).await.is_err() {
            return Err(Error::new(
                ErrorCode::UnknownReference,
                format!("location `{code}` does not exist"),
            )
            .with("field", "stores"));
        }
        if !checked.contains(&code) {
            checked.push(code);
        }
    }
    Ok(checked)
}

/// Creates a user (admin), with `relais.staff_user.created`; answers the user.
pub async fn create(
    db: &Db,
    p: &Principal,
    new: NewUser,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(StaffUser) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    p.require_admin()?;
    create_as(db, &p.key_id, new, idempotency, render).await
}

/// [`create`] for the CLI and the demo, which act as themselves (`cli`, `demo`).
pub async fn create_as(
    db: &Db,
    actor: &str,
    new: NewUser,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(StaffUser) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let email = email_of("email", &new.email)?;
    let name = kernel::text::bounded("name", &new.name, 1, 100)?;
    let role = role_of(&new.role, &new.stores)?;
    let language = language_of(new.language.as_deref().unwrap_or("fr"))?;
    password_of(&new.password)?;
    let stores = stores_of(db, &new.stores).await?;
    let hash = crate::secrets::hash_off_thread(new.password).await?;
    let now = crate::clock::now();
    let user = StaffUser {
        id: kernel::id::new_id("usr"),
        email,
        name,
        role: role.as_str().to_owned(),
        stores,
        language,
        active: true,
        failed_logins: 0,
        locked_until: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let actor = actor.to_owned();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                store::staff::create(c, &user, &hash, &actor).await?;
                Ok(user)
            })
        },
        render,
    )
    .await
}

/// The users (admin).
pub async fn list(db: &Db, p: &Principal, page: &PageRequest) -> Result<Page<StaffUser>, Error> {
    p.require_admin()?;
    store::staff::list(db, page).await
}

/// One user (admin).
pub async fn get(db: &Db, p: &Principal, id: &str) -> Result<StaffUser, Error> {
    p.require_admin()?;
    store::staff::find(&mut db.read().await?, id)
        .await?
        .ok_or_else(|| Error::not_found("staff user", id))
}

/// Changes a user (admin) if it is still at `version` (when given); a new password or a deactivation ends
/// the user's sessions. An admin cannot deactivate or demote itself (someone must be left
/// to undo it).
pub async fn update(
    db: &Db,
    p: &Principal,
    (id, version): (String, Option<i64>),
    change: Change,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(StaffUser) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    p.require_admin()?;
    let role = role_of(&change.role, &change.stores)?;
    if id == p.key_id && (!change.active || role != StaffRole::Admin) {
        return Err(Error::new(
            ErrorCode::Conflict,
            "an admin cannot deactivate or demote itself",
        ));
    }
    let set = UserChange {
        name: kernel::text::bounded("name", &change.name, 1, 100)?,
        role: role.as_str().to_owned(),
        language: language_of(&change.language)?,
        active: change.active,
        stores: stores_of(db, &change.stores).await?,
        password_hash: match change.password {
            Some(password) => {
                password_of(&password)?;
                Some(crate::secrets::hash_off_thread(password).await?)
            }
            None => None,
        },
    };
    let (actor, now) = (p.key_id.clone(), crate::clock::now());
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(
                async move { store::staff::update(c, (&id, version), &set, (now, &actor)).await },
            )
        },
        render,
    )
    .await
}

fn wrong_credentials() -> Error {
    Error::new(
        ErrorCode::Unauthorized,
        "the e-mail or the password is wrong",
    )
}

fn locked(until: Timestamp) -> Error {
    Error::new(
        ErrorCode::TooManyRequests,
        "too many wrong passwords: this account is locked for a while",
    )
    .with("retry_after", until.to_text())
}

/// A hash no password matches, checked when the e-mail is unknown so that answering takes
/// as long as for a known one.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2sKmD8k0f4w9lq2y2Q0pZ3tV3l6QmB7cJc1xqk3n2aY";

/// Signs a user in from a client address: an address that failed too often is refused
/// before any password is checked ([`crate::throttle`]); the password is checked off the
/// writer; a wrong one counts toward the account's lock and the address's throttle; a right
/// one opens a session of [`SESSION_HOURS`].
pub async fn sign_in(
    db: &Db,
    (throttle, address): (&crate::throttle::SignInThrottle, Option<std::net::IpAddr>),
    email: &str,
    password: &str,
) -> Result<SignedIn, Error> {
    throttle.check(address)?;
    let signed = check_credentials(db, email, password).await;
    if let Err(e) = &signed
        && matches!(e.code, ErrorCode::Unauthorized | ErrorCode::TooManyRequests)
    {
        throttle.failed(address);
    }
    signed
}

async fn check_credentials(db: &Db, email: &str, password: &str) -> Result<SignedIn, Error> {
    let email = email_of("email", email).map_err(|_| wrong_credentials())?;
    let found = store::staff::for_sign_in(db, &email).await?;
    let hash = found.as_ref().map_or(DECOY_HASH, |(_, h)| h.as_str());
    let right = crate::secrets::matches_off_thread(password.to_owned(), hash.to_owned()).await?;
    let Some((user, _)) = found else {
        return Err(wrong_credentials());
    };
    let now = crate::clock::now();
    if let Some(until) = user.locked_until.filter(|u| *u > now) {
        return Err(locked(until));
    }
    if !user.active {
        return Err(wrong_credentials());
    }
    if !right {
        let until = Timestamp::from_unix_ms(now.unix_ms() + LOCK_MINUTES * 60_000);
        let id = user.id.clone();
        let failures = db
            .write(move |c| {
                Box::pin(async move {
                    store::staff::record_failure(c, &id, (MAX_FAILURES, until)).await
                })
            })
            .await?;
        return Err(if failures >= MAX_FAILURES {
            locked(until)
        } else {
            wrong_credentials()
        });
    }
    open_session(db, user, now).await
}

async fn open_session(db: &Db, user: StaffUser, now: Timestamp) -> Result<SignedIn, Error> {
    let token = kernel::id::new_secret_hex();
    let expires_at = Timestamp::from_unix_ms(now.unix_ms() + SESSION_HOURS * 3_600_000);
    let (id, hash) = (user.id.clone(), token_hash(&token));
    let opened = db
        .write(move |c| {
            Box::pin(
                async move { store::staff::open_session(c, (&id, &hash), (now, expires_at)).await },
            )
        })
        .await?;
    if !opened {
        // Locked or deactivated between the read and the command.
        return Err(wrong_credentials());
    }
    Ok(SignedIn {
        user,
        token,
        expires_at,
    })
}

fn token_hash(token: &str) -> String {
    kernel::hex::encode(&Sha256::digest(token.as_bytes()))
}

/// The CSRF token of a session: derived from its secret token, so it needs no storage, and
/// is unknown to another site (which cannot read the cookie). Forms carry it; writes check it.
pub fn csrf_token(session_token: &str) -> String {
    token_hash(&format!("relais-console-csrf:{session_token}"))
}

/// The session a cookie's token opens, if it is live and its user active.
pub async fn session(db: &Db, token: &str) -> Result<Option<Session>, Error> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let found = store::staff::session_user(db, &token_hash(token), crate::clock::now()).await?;
    Ok(found.and_then(|(user, expires_at)| {
        // Roles were validated when the user was saved.
        let role = StaffRole::parse(&user.role)?;
        let principal = Principal {
            key_id: user.id.clone(),
            scopes: role.scopes(&user.stores),
        };
        Some(Session {
            role,
            principal,
            expires_at,
            csrf: csrf_token(token),
            user,
        })
    }))
}

/// Ends the session of `token` (signing out).
pub async fn sign_out(db: &Db, token: &str) -> Result<(), Error> {
    let hash = token_hash(token);
    db.write(move |c| Box::pin(async move { store::staff::close_session(c, &hash).await }))
        .await
}

/// Forgets the sessions that have expired (the hourly housekeeping); answers how many.
pub async fn purge_expired_sessions(db: &Db) -> Result<u64, Error> {
    let now = crate::clock::now();
    db.write(move |c| Box::pin(async move { store::staff::purge_sessions(c, now).await }))
        .await
}

/// Refuses a console form whose CSRF token is not the session's (compared in full whatever
/// differs first, so the time taken says nothing of the token).
pub fn check_csrf(session: &Session, given: &str) -> Result<(), Error> {
    let (expected, given) = (session.csrf.as_bytes(), given.as_bytes());
    let same = expected.len() == given.len()
        && expected
            .iter()
            .zip(given)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(crate::access::forbidden(
            "this form is stale or came from elsewhere: reload the page and try again",
        ))
    }
}

/// Refuses a console write the browser says comes from another site: `Sec-Fetch-Site:
/// cross-site`, or an `Origin` whose host is not the one the request was sent to.
pub fn check_same_origin(
    origin: Option<&str>,
    host: Option<&str>,
    fetch_site: Option<&str>,
) -> Result<(), Error> {
    let origin_host = origin.map(|o| o.split_once("://").map_or(o, |(_, rest)| rest));
    let foreign = match (origin_host, host) {
        (Some(o), Some(h)) => o != h,
        (Some(o), None) => o != "null",
        (None, _) => false,
    };
    if fetch_site == Some("cross-site") || foreign {
        Err(crate::access::forbidden(
            "a console form was posted from another site",
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_from_another_site_are_refused() {
        assert!(
            check_same_origin(
                Some("https://shop.example"),
                Some("shop.example"),
                Some("same-origin")
            )
            .is_ok()
        );
        assert!(check_same_origin(None, Some("shop.example"), None).is_ok());
        assert!(
            check_same_origin(Some("https://evil.example"), Some("shop.example"), None).is_err()
        );
        assert!(check_same_origin(None, Some("shop.example"), Some("cross-site")).is_err());
    }

    #[test]
    fn the_decoy_hash_is_a_real_argon2_hash() {
        // Unknown e-mails are checked against it: it must cost what a real check costs.
        assert!(argon2::password_hash::PasswordHash::new(DECOY_HASH).is_ok());
        assert!(!crate::secrets::matches("anything", DECOY_HASH));
    }

    #[test]
    fn users_are_validated() {
        assert_eq!(
            email_of("email", " Hugo@Shop.Example ").unwrap(),
            "hugo@shop.example"
        );
        for bad in ["hugo", "@shop.example", "hugo@shop", "hu go@shop.example"] {
            assert!(email_of("email", bad).is_err(), "{bad}");
        }
        assert!(role_of("associate", &[]).is_err());
        assert!(role_of("marketer", &["LYS".into()]).is_err());
        assert_eq!(
            role_of("associate", &["LYS".into()]).unwrap(),
            StaffRole::Associate
        );
        assert!(password_of("short").is_err() && password_of("long enough!").is_ok());
        assert_eq!(csrf_token("a"), csrf_token("a"));
        assert_ne!(csrf_token("a"), csrf_token("b"));
    }
}
