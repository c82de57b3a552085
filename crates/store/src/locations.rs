//! Locations in SQL, and the "near me" query.

use std::collections::BTreeSet;

use catalog::{Capability, Coordinates, Location, LocationKind, LocationPatch, Owner, OwnerKind};
use kernel::{Error, ErrorCode, Page, PageRequest, Timestamp};
use outbox::Event;

use crate::catalog::check_version;
use crate::rows::{self, to_json};
use crate::sql::{Conn, Row, corrupt};
use crate::{Db, events, params};

const COLUMNS: &str = "code, name, kind, address, latitude, longitude, time_zone, opening_hours, owner_kind, owner_name,
    capabilities, phone, email, active, version, created_at, updated_at, pickup_lead_min";

fn capabilities_text(c: &BTreeSet<Capability>) -> String {
    c.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
}

fn from_row(row: &Row) -> Result<Location, Error> {
    let kind_text = row.text("kind")?;
    let owner_text = row.text("owner_kind")?;
    let capabilities = row
        .text("capabilities")?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| Capability::parse(s).ok_or_else(|| corrupt("capabilities", s)))
        .collect::<Result<BTreeSet<_>, _>>()?;
    Ok(Location {
        code: row.text("code")?,
        name: row.text("name")?,
        kind: LocationKind::parse(&kind_text).ok_or_else(|| corrupt("kind", &kind_text))?,
        address: rows::json(row, "address")?,
        coordinates: Coordinates {
            latitude: row.float("latitude")?,
            longitude: row.float("longitude")?,
        },
        time_zone: row.text("time_zone")?,
        opening_hours: rows::json(row, "opening_hours")?,
        owner: Owner {
            kind: match owner_text.as_str() {
                "franchisee" => OwnerKind::Franchisee,
                "company" => OwnerKind::Company,
                other => return Err(corrupt("owner_kind", other)),
            },
            name: row.text("owner_name")?,
        },
        capabilities,
        phone: row.opt_text("phone")?,
        email: row.opt_text("email")?,
        pickup_lead_min: row.int("pickup_lead_min")?,
        active: row.int("active")? != 0,
        version: row.int("version")?,
        created_at: rows::timestamp(row, "created_at")?,
        updated_at: rows::timestamp(row, "updated_at")?,
    })
}

pub(crate) fn owner_kind_text(k: OwnerKind) -> &'static str {
    match k {
        OwnerKind::Company => "company",
        OwnerKind::Franchisee => "franchisee",
    }
}

pub async fn create_location(conn: &mut Conn, l: &Location, actor: &str) -> Result<(), Error> {
    let sql = format!(
        "INSERT INTO locations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    );
    conn.execute(
        &sql,
        params![
            &l.code,
            &l.name,
            l.kind.as_str(),
            to_json(&l.address),
            l.coordinates.latitude,
            l.coordinates.longitude,
            &l.time_zone,
            to_json(&l.opening_hours),
            owner_kind_text(l.owner.kind),
            &l.owner.name,
            capabilities_text(&l.capabilities),
            &l.phone,
            &l.email,
            l.active,
            l.version,
            l.created_at.to_text(),
            l.updated_at.to_text(),
            l.pickup_lead_min
        ],
    )
    .await
    .map_err(|e| {
        if e.code == ErrorCode::AlreadyExists {
            Error::already_exists("location", &l.code).with("field", "code")
        } else {
            e
        }
    })?;
    events::emit(conn, Event::LocationCreated(l), &l.code, actor).await
}

pub async fn find_location(conn: &mut Conn, code: &str) -> Result<Option<Location>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM locations WHERE code = $1");
    conn.query_opt(&sql, params![code])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn get_location(db: &Db, code: &str) -> Result<Location, Error> {
    let mut conn = db.read().await?;
    find_location(&mut conn, code)
        .await?
        .ok_or_else(|| Error::not_found("location", code))
}

pub async fn update_location(
    conn: &mut Conn,
    code: &str,
    patch: &LocationPatch,
    expected_version: Option<i64>,
    actor: &str,
) -> Result<Location, Error> {
    let mut l = find_location(&mut *conn, code)
        .await?
        .ok_or_else(|| Error::not_found("location", code))?;
    check_version(l.version, expected_version)?;
    let read_version = l.version;
    patch.apply(&mut l, Timestamp::now())?;
    let updated = conn
        .execute(
            "UPDATE locations SET name = $1, address = $2, latitude = $3, longitude = $4, time_zone = $5, opening_hours = $6,
                    owner_kind = $7, owner_name = $8, capabilities = $9, phone = $10, email = $11, active = $12,
                    version = $13, updated_at = $14, pickup_lead_min = $17
             WHERE code = $15 AND version = $16",
            params![
                &l.name, to_json(&l.address), l.coordinates.latitude, l.coordinates.longitude, &l.time_zone,
                to_json(&l.opening_hours), owner_kind_text(l.owner.kind), &l.owner.name, capabilities_text(&l.capabilities),
                &l.phone, &l.email, l.active, l.version, l.updated_at.to_text(), code, read_version, l.pickup_lead_min
            ],
        )
        .await?;
    if updated != 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the location changed meanwhile; read it again",
        ));
    }
    events::emit(conn, Event::LocationUpdated(&l), code, actor).await?;
    Ok(l)
}

/// Filters for the location list.
#[derive(Debug, Clone, Default)]
pub struct LocationFilter {
    pub kind: Option<LocationKind>,
    pub capability: Option<Capability>,
    pub city: Option<String>,
    pub include_inactive: bool,
    /// With `near`, only locations within the radius, nearest first.
    pub near: Option<(Coordinates, f64)>,
}

/// A location and, for a `near` query, its distance.
#[derive(Debug, Clone)]
pub struct LocationHit {
    pub location: Location,
    pub distance_km: Option<f64>,
}

fn matches(l: &Location, f: &LocationFilter) -> bool {
    (f.include_inactive || l.active)
        && f.kind.is_none_or(|k| l.kind == k)
        && f.capability.is_none_or(|c| l.capabilities.contains(&c))
        && f.city
            .as_ref()
            .is_none_or(|c| l.address.city.eq_ignore_ascii_case(c))
}

/// Every location, active or not, in code order.
pub async fn all_locations(db: &Db) -> Result<Vec<Location>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM locations ORDER BY code");
    db.read()
        .await?
        .query(&sql, &[])
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Locations by code, or by distance for a `near` query. A retailer has at most a few
/// thousand locations, so filtering and sorting by distance happen here rather than in SQL
/// (which keeps the query portable: no PostGIS, no SQLite extension).
pub async fn list_locations(
    db: &Db,
    f: &LocationFilter,
    page: &PageRequest,
) -> Result<Page<LocationHit>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM locations ORDER BY code");
    let all = db.read().await?.query(&sql, &[]).await?;
    let mut hits = Vec::new();
    for row in &all {
        let location = from_row(row)?;
        if !matches(&location, f) {
            continue;
        }
        let distance_km = f.near.map(|(at, _)| at.distance_km(&location.coordinates));
        if let (Some(d), Some((_, radius))) = (distance_km, f.near)
            && d > radius
        {
            continue;
        }
        hits.push(LocationHit {
            location,
            distance_km,
        });
    }
    if f.near.is_some() {
        hits.sort_by_key(sort_key);
    }
    let start = match &page.after {
        Some(after) => hits
            .iter()
            .position(|h| &sort_key(h) > after)
            .unwrap_or(hits.len()),
        None => 0,
    };
    let rest: Vec<LocationHit> = hits
        .into_iter()
        .skip(start)
        .take(page.fetch_limit() as usize)
        .collect();
    Ok(Page::from_rows(rest, page, sort_key))
}

/// Keyset key: whole metres (zero-padded so text order is numeric order) then the code.
fn sort_key(h: &LocationHit) -> String {
    match h.distance_km {
        Some(d) => format!("{:012}|{}", (d * 1000.0).round() as u64, h.location.code),
        None => h.location.code.clone(),
    }
}
