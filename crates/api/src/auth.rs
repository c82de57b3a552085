//! API keys and scopes.
//!
//! Callers send `Authorization: Bearer <token>`. The token's SHA-256 is looked up (with a
//! short in-memory cache) to find the key and its scopes:
//! - `admin`: everything;
//! - `channel:<code>`: a channel's front-end (web shop, app…): reads catalogue, locations and
//!   prices; no admin routes, no catalogue changes;
//! - `store:<location code>`: a store's POS, kiosks and associates, confined to that store's
//!   data; reads the catalogue and prices;
//! - `service`: customer-service agents; reads catalogue, locations and prices.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use kernel::{Error, ErrorCode};

use crate::error::ApiError;
use crate::state::AppState;

/// One permission a key holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Admin,
    Channel(String),
    Store(String),
    Service,
}

impl Scope {
    pub fn parse(text: &str) -> Result<Scope, Error> {
        let bad = || {
            Error::validation(
                "scopes",
                format!(
                    "`{text}` is not a scope: admin, service, channel:<code> or store:<location code>"
                ),
            )
        };
        match text.split_once(':') {
            None if text == "admin" => Ok(Scope::Admin),
            None if text == "service" => Ok(Scope::Service),
            Some(("channel", c)) => catalog::channel::validate_channel_code("scopes", c)
                .map(Scope::Channel)
                .map_err(|_| bad()),
            Some(("store", s)) => catalog::location::validate_location_code("scopes", s)
                .map(Scope::Store)
                .map_err(|_| bad()),
            _ => Err(bad()),
        }
    }

    pub fn to_text(&self) -> String {
        match self {
            Scope::Admin => "admin".into(),
            Scope::Service => "service".into(),
            Scope::Channel(c) => format!("channel:{c}"),
            Scope::Store(s) => format!("store:{s}"),
        }
    }
}

/// The caller of a request: an API key and its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub key_id: String,
    pub scopes: Vec<Scope>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.scopes.contains(&Scope::Admin)
    }

    /// The retailer's staff at large: admin and service keys (customer lists, reviews,
    /// exports, segments).
    pub fn is_staff(&self) -> bool {
        self.scopes
            .iter()
            .any(|s| matches!(s, Scope::Admin | Scope::Service))
    }

    /// Staff-only routes (see [`Principal::is_staff`]).
    pub fn require_staff(&self) -> Result<(), ApiError> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(forbidden("this needs a service or admin key"))
        }
    }

    /// The store a store key speaks for, when the key is not also staff.
    pub fn store_only(&self) -> Option<&str> {
        if self.is_staff() {
            return None;
        }
        self.scopes.iter().find_map(|s| match s {
            Scope::Store(code) => Some(code.as_str()),
            _ => None,
        })
    }

    /// Admin-only routes: catalogue changes, keys, events, reports.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(forbidden("this route needs the admin scope"))
        }
    }

    /// The channel this key speaks for when it is bound to exactly one.
    pub fn own_channel(&self) -> Option<&str> {
        let mut channels = self.scopes.iter().filter_map(|s| match s {
            Scope::Channel(c) => Some(c.as_str()),
            _ => None,
        });
        match (channels.next(), channels.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    }

    /// Stock movements: admins anywhere, a store key at its own store.
    pub fn require_stock_keeper(&self, location_code: &str) -> Result<(), ApiError> {
        let allowed = self.scopes.iter().any(|s| match s {
            Scope::Admin => true,
            Scope::Store(code) => code == location_code,
            _ => false,
        });
        if allowed {
            Ok(())
        } else {
            Err(forbidden(
                "only an admin key or this store's key may move its stock",
            ))
        }
    }

    /// Holds: channels, service agents and admins anywhere, a store key at its own store.
    pub fn require_hold_at(&self, location_code: &str) -> Result<(), ApiError> {
        let allowed = self.scopes.iter().any(|s| match s {
            Scope::Admin | Scope::Service | Scope::Channel(_) => true,
            Scope::Store(code) => code == location_code,
        });
        if allowed {
            Ok(())
        } else {
            Err(forbidden("a store key holds stock at its own store only"))
        }
    }

    /// Whether the key may see a store's own data (stock, orders, associates' views).
    pub fn can_access_store(&self, location_code: &str) -> bool {
        self.scopes.iter().any(|s| match s {
            Scope::Admin | Scope::Service => true,
            Scope::Store(code) => code == location_code,
            Scope::Channel(_) => false,
        })
    }
}

pub(crate) fn forbidden(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, message)
}

/// Recently seen tokens, so that most requests cost no database read. Revocation is seen
/// at once on the node that revoked, and within [`CACHE_TTL`] on the others.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (Option<Principal>, Instant)>>,
}

pub const CACHE_TTL: Duration = Duration::from_secs(10);
const NEGATIVE_TTL: Duration = Duration::from_secs(2);
const CACHE_MAX: usize = 10_000;

impl KeyCache {
    fn get(&self, token_hash: &str) -> Option<Option<Principal>> {
        let entries = self.entries.lock().ok()?;
        let (principal, at) = entries.get(token_hash)?;
        let ttl = if principal.is_some() {
            CACHE_TTL
        } else {
            NEGATIVE_TTL
        };
        (at.elapsed() < ttl).then(|| principal.clone())
    }

    fn put(&self, token_hash: String, principal: Option<Principal>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
            entries.insert(token_hash, (principal, Instant::now()));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

async fn authenticate(state: &AppState, token: &str) -> Result<Option<Principal>, Error> {
    let hash = store::api_keys::hash_token(token);
    if let Some(cached) = state.keys.get(&hash) {
        return Ok(cached);
    }
    let principal = store::api_keys::find_by_token(&state.db, token)
        .await?
        .map(|key| Principal {
            key_id: key.id,
            // Scopes were validated when the key was created.
            scopes: key
                .scopes
                .iter()
                .filter_map(|s| Scope::parse(s).ok())
                .collect(),
        });
    state.keys.put(hash, principal.clone());
    Ok(principal)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let unauthorized = |m: &str| ApiError::new(ErrorCode::Unauthorized, m);
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| unauthorized("send an API key: `Authorization: Bearer <token>`"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
        authenticate(state, token)
            .await?
            .ok_or_else(|| unauthorized("the API key is unknown or revoked"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_print() {
        for s in ["admin", "service", "channel:web", "store:LYS-BELLECOUR"] {
            assert_eq!(Scope::parse(s).unwrap().to_text(), s);
        }
        for bad in ["root", "channel:", "store:lyon", "channel:Web", "store", ""] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn store_keys_are_confined() {
        let p = Principal {
            key_id: "k".into(),
            scopes: vec![Scope::Store("LYS".into())],
        };
        assert!(p.can_access_store("LYS") && !p.can_access_store("PAR"));
        assert_eq!(p.store_only(), Some("LYS"));
        assert!(!p.is_staff() && p.require_staff().is_err());
        let agent = Principal {
            key_id: "k".into(),
            scopes: vec![Scope::Service, Scope::Store("LYS".into())],
        };
        assert!(agent.is_staff());
        assert_eq!(
            agent.store_only(),
            None,
            "staff are not confined to a store"
        );
        assert!(p.require_admin().is_err());
        let web = Principal {
            key_id: "k".into(),
            scopes: vec![Scope::Channel("web".into())],
        };
        assert_eq!(web.own_channel(), Some("web"));
        assert!(!web.can_access_store("LYS"));
    }
}
