//! Profiles by id: reading one and following a merged profile to its survivor. A module of
//! its own so that carts, orders and credits can name a customer without depending on
//! identity resolution (`customers`), which moves their rows on a merge.

use customers::{Profile, ProfileStatus};
use kernel::Error;

use crate::sql::{Conn, Row, corrupt};
use crate::{Db, params, rows};

pub(crate) const PROFILE_COLUMNS: &str =
    "id, status, merged_into, given_name, family_name, home_store, created_at, updated_at";

pub(crate) fn profile_from_row(row: &Row) -> Result<Profile, Error> {
    let status = row.text("status")?;
    Ok(Profile {
        id: row.text("id")?,
        status: ProfileStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        merged_into: row.opt_text("merged_into")?,
        given_name: row.opt_text("given_name")?,
        family_name: row.opt_text("family_name")?,
        home_store: row.opt_text("home_store")?,
        created_at: rows::timestamp(row, "created_at")?,
        updated_at: rows::timestamp(row, "updated_at")?,
    })
}

pub async fn find_profile(conn: &mut Conn, id: &str) -> Result<Option<Profile>, Error> {
    conn.query_opt(
        &format!("SELECT {PROFILE_COLUMNS} FROM customers WHERE id = $1"),
        params![id],
    )
    .await?
    .as_ref()
    .map(profile_from_row)
    .transpose()
}

pub async fn get_profile(db: &Db, id: &str) -> Result<Profile, Error> {
    find_profile(&mut db.read().await?, id)
        .await?
        .ok_or_else(|| Error::not_found("customer", id))
}

/// The profile `id` stands for, read whole: the survivor of a merged one (merges forward one
/// hop), itself otherwise — an erased one included, for callers that answer it as such.
pub async fn followed(conn: &mut Conn, id: &str) -> Result<Profile, Error> {
    let profile = find_profile(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("customer", id))?;
    match (profile.status, &profile.merged_into) {
        (ProfileStatus::Merged, Some(survivor)) => find_profile(conn, survivor)
            .await?
            .ok_or_else(|| Error::not_found("customer", survivor)),
        _ => Ok(profile),
    }
}

/// The active profile `id` stands for: itself, or the survivor it was merged into. Erased and
/// unknown profiles are not found.
pub async fn active_id(conn: &mut Conn, id: &str) -> Result<String, Error> {
    let profile = find_profile(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("customer", id))?;
    match (profile.status, profile.merged_into) {
        (ProfileStatus::Active, _) => Ok(profile.id),
        // Merges keep forwarding one hop deep (see `merge`).
        (ProfileStatus::Merged, Some(survivor)) => Ok(survivor),
        _ => Err(Error::not_found("customer", id).with("status", profile.status.as_str())),
    }
}
