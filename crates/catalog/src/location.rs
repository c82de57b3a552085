//! Locations: stores, warehouses and pickup points, and the rules that validate them.
//!
//! A location has a code (`PAR-RIVOLI`), a postal address, WGS 84 coordinates, an IANA time
//! zone, weekly opening hours in local time, an owner (the company or a franchisee) and the
//! capabilities it offers: `pickup`, `reserve`, `ship_from`, `returns`.

use std::collections::{BTreeMap, BTreeSet};

use kernel::{Error, Timestamp};
use serde::{Deserialize, Serialize};

use kernel::text::{bounded, code, optional};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    Store,
    Warehouse,
    PickupPoint,
}

impl LocationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LocationKind::Store => "store",
            LocationKind::Warehouse => "warehouse",
            LocationKind::PickupPoint => "pickup_point",
        }
    }

    pub fn parse(text: &str) -> Option<LocationKind> {
        [
            LocationKind::Store,
            LocationKind::Warehouse,
            LocationKind::PickupPoint,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Click & collect orders are picked up here.
    Pickup,
    /// Click & reserve: items are held here unpaid to try and buy.
    Reserve,
    /// Home deliveries leave from here.
    ShipFrom,
    /// Returns are accepted here.
    Returns,
}

impl Capability {
    pub const ALL: [Capability; 4] = [
        Capability::Pickup,
        Capability::Reserve,
        Capability::ShipFrom,
        Capability::Returns,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Pickup => "pickup",
            Capability::Reserve => "reserve",
            Capability::ShipFrom => "ship_from",
            Capability::Returns => "returns",
        }
    }

    pub fn parse(text: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    Company,
    Franchisee,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Owner {
    pub kind: OwnerKind,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub postal_code: String,
    pub city: String,
    /// ISO 3166-1 alpha-2, e.g. `FR`.
    pub country: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

impl Coordinates {
    /// Great-circle distance in kilometres (haversine, mean Earth radius).
    pub fn distance_km(&self, other: &Coordinates) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0088;
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.longitude - self.longitude).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
    }

    pub fn validate(&self, field: &str) -> Result<Coordinates, Error> {
        if !(-90.0..=90.0).contains(&self.latitude) || !self.latitude.is_finite() {
            return Err(Error::validation(
                &format!("{field}.latitude"),
                "latitude must be between -90 and 90",
            ));
        }
        if !(-180.0..=180.0).contains(&self.longitude) || !self.longitude.is_finite() {
            return Err(Error::validation(
                &format!("{field}.longitude"),
                "longitude must be between -180 and 180",
            ));
        }
        Ok(*self)
    }
}

/// One opening period in local time, minutes since midnight, `opens < closes`.
/// Serialised as `{"opens": "09:30", "closes": "19:00"}`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(into = "TimeRangeText", try_from = "TimeRangeText")]
pub struct TimeRange {
    pub opens_min: u16,
    pub closes_min: u16,
}

impl TimeRange {
    /// Parses `"09:30"`–`"19:00"`; `24:00` is allowed as a closing time.
    pub fn parse(field: &str, opens: &str, closes: &str) -> Result<TimeRange, Error> {
        let opens_min = parse_hhmm(&format!("{field}.opens"), opens, false)?;
        let closes_min = parse_hhmm(&format!("{field}.closes"), closes, true)?;
        if opens_min >= closes_min {
            return Err(Error::validation(
                field,
                "opening time must be before closing time",
            ));
        }
        Ok(TimeRange {
            opens_min,
            closes_min,
        })
    }

    pub fn opens(&self) -> String {
        format_hhmm(self.opens_min)
    }

    pub fn closes(&self) -> String {
        format_hhmm(self.closes_min)
    }
}

/// The text form of a [`TimeRange`].
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimeRangeText {
    pub opens: String,
    pub closes: String,
}

impl From<TimeRange> for TimeRangeText {
    fn from(r: TimeRange) -> Self {
        TimeRangeText {
            opens: r.opens(),
            closes: r.closes(),
        }
    }
}

impl TryFrom<TimeRangeText> for TimeRange {
    type Error = String;
    fn try_from(t: TimeRangeText) -> Result<Self, Self::Error> {
        TimeRange::parse("period", &t.opens, &t.closes).map_err(|e| e.message)
    }
}

fn parse_hhmm(field: &str, text: &str, allow_24: bool) -> Result<u16, Error> {
    let bad = || Error::validation(field, format!("`{text}` is not a time of day HH:MM"));
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let ok = (h < 24 && m < 60) || (allow_24 && h == 24 && m == 0);
    if ok { Ok(h * 60 + m) } else { Err(bad()) }
}

fn format_hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Weekly opening hours in local time; a day absent from the map is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OpeningHours {
    /// Keys `mon` … `sun`.
    pub weekly: BTreeMap<String, Vec<TimeRange>>,
}

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl OpeningHours {
    /// Checks day names and that each day's periods are sorted and do not overlap.
    pub fn validate(&self, field: &str) -> Result<OpeningHours, Error> {
        for (day, ranges) in &self.weekly {
            if !WEEKDAYS.contains(&day.as_str()) {
                return Err(Error::validation(
                    &format!("{field}.{day}"),
                    "days are mon, tue, wed, thu, fri, sat, sun",
                ));
            }
            for pair in ranges.windows(2) {
                if pair[0].closes_min > pair[1].opens_min {
                    return Err(Error::validation(
                        &format!("{field}.{day}"),
                        "periods must be in order and not overlap",
                    ));
                }
            }
        }
        Ok(self.clone())
    }

    /// The periods of a day (`0` = Monday).
    pub fn day(&self, weekday_from_monday: usize) -> &[TimeRange] {
        WEEKDAYS
            .get(weekday_from_monday)
            .and_then(|d| self.weekly.get(*d))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Whether the location is open at `minute_of_day` on that weekday (local time).
    pub fn is_open(&self, weekday_from_monday: usize, minute_of_day: u16) -> bool {
        self.day(weekday_from_monday)
            .iter()
            .any(|r| r.opens_min <= minute_of_day && minute_of_day < r.closes_min)
    }
}

/// Checks an IANA time zone name against the bundled time zone database.
pub fn validate_time_zone(field: &str, tz: &str) -> Result<String, Error> {
    jiff::tz::TimeZone::get(tz)
        .map(|_| tz.to_owned())
        .map_err(|_| {
            Error::validation(
                field,
                format!("`{tz}` is not an IANA time zone such as Europe/Paris"),
            )
        })
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewLocation {
    pub code: String,
    pub name: String,
    pub kind: LocationKind,
    pub address: Address,
    pub coordinates: Coordinates,
    pub time_zone: String,
    pub opening_hours: OpeningHours,
    pub owner: Owner,
    pub capabilities: BTreeSet<Capability>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Minutes to prepare a pickup order; default [`DEFAULT_PICKUP_LEAD_MIN`].
    pub pickup_lead_min: Option<i64>,
}

/// Minutes a store needs to prepare a click & collect order unless it says otherwise.
pub const DEFAULT_PICKUP_LEAD_MIN: i64 = 120;

fn validate_lead(field: &str, minutes: i64) -> Result<i64, Error> {
    if (0..=7 * 24 * 60).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(Error::validation(
            field,
            "a preparation lead time is 0 to 10080 minutes",
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Location {
    pub code: String,
    pub name: String,
    pub kind: LocationKind,
    pub address: Address,
    pub coordinates: Coordinates,
    pub time_zone: String,
    pub opening_hours: OpeningHours,
    pub owner: Owner,
    pub capabilities: BTreeSet<Capability>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Minutes to prepare a pickup order.
    pub pickup_lead_min: i64,
    pub active: bool,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Fields to change on a location; `None` leaves a field as it is. The code never changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocationPatch {
    pub name: Option<String>,
    pub address: Option<Address>,
    pub coordinates: Option<Coordinates>,
    pub time_zone: Option<String>,
    pub opening_hours: Option<OpeningHours>,
    pub owner: Option<Owner>,
    pub capabilities: Option<BTreeSet<Capability>>,
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub pickup_lead_min: Option<i64>,
    pub active: Option<bool>,
}

/// Location code: 2 to 32 of `A-Z 0-9 -`.
pub fn validate_location_code(field: &str, value: &str) -> Result<String, Error> {
    code(
        field,
        value,
        2,
        32,
        |c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-',
        "upper-case letters, digits or `-`",
    )
}

fn validate_address(a: &Address) -> Result<Address, Error> {
    let country = &a.country;
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Error::validation(
            "address.country",
            "country must be an ISO 3166-1 alpha-2 code such as FR",
        ));
    }
    Ok(Address {
        line1: bounded("address.line1", &a.line1, 1, 200)?,
        line2: optional("address.line2", a.line2.as_deref(), 200)?,
        postal_code: bounded("address.postal_code", &a.postal_code, 1, 20)?,
        city: bounded("address.city", &a.city, 1, 100)?,
        country: country.clone(),
    })
}

fn validate_owner(o: &Owner) -> Result<Owner, Error> {
    Ok(Owner {
        kind: o.kind,
        name: bounded("owner.name", &o.name, 1, 200)?,
    })
}

fn validate_email(field: &str, email: Option<&str>) -> Result<Option<String>, Error> {
    let email = optional(field, email, 254)?;
    if let Some(e) = &email {
        let valid = e
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'));
        if !valid {
            return Err(Error::validation(field, "not an e-mail address"));
        }
    }
    Ok(email)
}

impl NewLocation {
    pub fn validate(&self, now: Timestamp) -> Result<Location, Error> {
        Ok(Location {
            code: validate_location_code("code", &self.code)?,
            name: bounded("name", &self.name, 1, 200)?,
            kind: self.kind,
            address: validate_address(&self.address)?,
            coordinates: self.coordinates.validate("coordinates")?,
            time_zone: validate_time_zone("time_zone", &self.time_zone)?,
            opening_hours: self.opening_hours.validate("opening_hours")?,
            owner: validate_owner(&self.owner)?,
            capabilities: self.capabilities.clone(),
            phone: optional("phone", self.phone.as_deref(), 40)?,
            email: validate_email("email", self.email.as_deref())?,
            pickup_lead_min: validate_lead(
                "pickup_lead_min",
                self.pickup_lead_min.unwrap_or(DEFAULT_PICKUP_LEAD_MIN),
            )?,
            active: true,
            version: 1,
            created_at: now,
            updated_at: now,
        })
    }
}

impl LocationPatch {
    pub fn is_empty(&self) -> bool {
        *self == LocationPatch::default()
    }

    pub fn apply(&self, l: &mut Location, now: Timestamp) -> Result<(), Error> {
        if self.is_empty() {
            return Err(Error::validation("body", "the patch changes nothing"));
        }
        if let Some(v) = &self.name {
            l.name = bounded("name", v, 1, 200)?;
        }
        if let Some(v) = &self.address {
            l.address = validate_address(v)?;
        }
        if let Some(v) = &self.coordinates {
            l.coordinates = v.validate("coordinates")?;
        }
        if let Some(v) = &self.time_zone {
            l.time_zone = validate_time_zone("time_zone", v)?;
        }
        if let Some(v) = &self.opening_hours {
            l.opening_hours = v.validate("opening_hours")?;
        }
        if let Some(v) = &self.owner {
            l.owner = validate_owner(v)?;
        }
        if let Some(v) = &self.capabilities {
            l.capabilities = v.clone();
        }
        if let Some(v) = &self.phone {
            l.phone = optional("phone", v.as_deref(), 40)?;
        }
        if let Some(v) = &self.email {
            l.email = validate_email("email", v.as_deref())?;
        }
        if let Some(v) = self.pickup_lead_min {
            l.pickup_lead_min = validate_lead("pickup_lead_min", v)?;
        }
        if let Some(v) = self.active {
            l.active = v;
        }
        l.version += 1;
        l.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lyon() -> NewLocation {
        NewLocation {
            code: "LYS-BELLECOUR".into(),
            name: "Lyon Bellecour".into(),
            kind: LocationKind::Store,
            address: Address {
                line1: "12 rue de la République".into(),
                line2: None,
                postal_code: "69002".into(),
                city: "Lyon".into(),
                country: "FR".into(),
            },
            coordinates: Coordinates {
                latitude: 45.7578,
                longitude: 4.8320,
            },
            time_zone: "Europe/Paris".into(),
            opening_hours: OpeningHours {
                weekly: BTreeMap::from([(
                    "mon".into(),
                    vec![TimeRange::parse("mon", "10:00", "19:30").unwrap()],
                )]),
            },
            owner: Owner {
                kind: OwnerKind::Franchisee,
                name: "SAS Rhône Sport".into(),
            },
            capabilities: BTreeSet::from([Capability::Pickup, Capability::Returns]),
            phone: None,
            email: Some("lyon@example.fr".into()),
            pickup_lead_min: None,
        }
    }

    #[test]
    fn valid_location_passes() {
        let l = lyon().validate(Timestamp::now()).unwrap();
        assert!(l.active && l.opening_hours.is_open(0, 10 * 60));
        assert!(!l.opening_hours.is_open(0, 19 * 60 + 30));
        assert!(!l.opening_hours.is_open(6, 12 * 60));
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(Box<dyn Fn(&mut NewLocation)>, &str)> = vec![
            (Box::new(|l| l.code = "lyon".into()), "code"),
            (
                Box::new(|l| l.coordinates.latitude = 91.0),
                "coordinates.latitude",
            ),
            (
                Box::new(|l| l.coordinates.longitude = f64::NAN),
                "coordinates.longitude",
            ),
            (
                Box::new(|l| l.time_zone = "Europe/Lyon".into()),
                "time_zone",
            ),
            (
                Box::new(|l| l.address.country = "France".into()),
                "address.country",
            ),
            (Box::new(|l| l.email = Some("nobody".into())), "email"),
            (
                Box::new(|l| {
                    l.opening_hours.weekly.insert("funday".into(), vec![]);
                }),
                "opening_hours.funday",
            ),
        ];
        for (change, field) in cases {
            let mut l = lyon();
            change(&mut l);
            let e = l.validate(Timestamp::now()).unwrap_err();
            assert_eq!(e.details["field"], field);
        }
    }

    #[test]
    fn time_ranges() {
        assert!(TimeRange::parse("x", "09:00", "24:00").is_ok());
        assert!(TimeRange::parse("x", "24:00", "24:00").is_err());
        assert!(TimeRange::parse("x", "19:00", "09:00").is_err());
        assert!(TimeRange::parse("x", "9:00", "10:00").is_err());
        assert_eq!(
            TimeRange::parse("x", "09:05", "10:00").unwrap().opens(),
            "09:05"
        );
    }

    #[test]
    fn distances() {
        let paris = Coordinates {
            latitude: 48.8566,
            longitude: 2.3522,
        };
        let lyon = Coordinates {
            latitude: 45.7640,
            longitude: 4.8357,
        };
        let d = paris.distance_km(&lyon);
        assert!((390.0..395.0).contains(&d), "{d}");
        assert_eq!(paris.distance_km(&paris), 0.0);
    }
}

impl Location {
    /// Local weekday (0 = Monday) and minute of day at `at` in the location's time zone.
    pub fn local_time(&self, at: kernel::Timestamp) -> Option<(usize, u16)> {
        let tz = jiff::tz::TimeZone::get(&self.time_zone).ok()?;
        let instant = jiff::Timestamp::from_millisecond(at.unix_ms()).ok()?;
        let local = instant.to_zoned(tz);
        let weekday = local.weekday().to_monday_zero_offset() as usize;
        Some((weekday, local.hour() as u16 * 60 + local.minute() as u16))
    }

    /// When a pickup order placed at `now` can be collected: `now` plus the preparation lead
    /// time, moved to the next opening if the store is closed then. Looks 14 days ahead;
    /// `None` for a location that never opens. Computed in the store's own time zone, so
    /// opening hours mean wall-clock time across daylight-saving changes.
    pub fn pickup_ready_by(&self, now: kernel::Timestamp) -> Option<kernel::Timestamp> {
        let tz = jiff::tz::TimeZone::get(&self.time_zone).ok()?;
        let earliest =
            jiff::Timestamp::from_millisecond(now.unix_ms() + self.pickup_lead_min * 60_000)
                .ok()?;
        let start = earliest.to_zoned(tz.clone());
        for offset in 0..14i64 {
            let day = start
                .date()
                .checked_add(jiff::Span::new().days(offset))
                .ok()?;
            let weekday = day.weekday().to_monday_zero_offset() as usize;
            for period in self.opening_hours.day(weekday) {
                let at = |minutes: u16| -> Option<jiff::Timestamp> {
                    let time = jiff::civil::Time::new(
                        (minutes / 60).min(23) as i8,
                        (minutes % 60) as i8,
                        0,
                        0,
                    )
                    .ok()?;
                    let dt = day.to_datetime(time);
                    // 24:00 closes at midnight: the start of the next day.
                    let dt = if minutes >= 24 * 60 {
                        day.checked_add(jiff::Span::new().days(1))
                            .ok()?
                            .to_datetime(jiff::civil::Time::midnight())
                    } else {
                        dt
                    };
                    dt.to_zoned(tz.clone()).ok().map(|z| z.timestamp())
                };
                let (opens, closes) = (at(period.opens_min)?, at(period.closes_min)?);
                let ready = if earliest > opens { earliest } else { opens };
                if ready < closes {
                    return Some(kernel::Timestamp::from_unix_ms(ready.as_millisecond()));
                }
            }
        }
        None
    }

    /// The pickup promise in whole days, as shopping feeds name it: an order placed at `now`
    /// is ready `same day`, `next day`, `2-day` … `6-day`, or `multi-week`, counted in the
    /// store's own calendar. `None` for a location that never opens.
    pub fn pickup_sla(&self, now: kernel::Timestamp) -> Option<&'static str> {
        let tz = jiff::tz::TimeZone::get(&self.time_zone).ok()?;
        let ready = self.pickup_ready_by(now)?;
        let local_date = |at: kernel::Timestamp| {
            jiff::Timestamp::from_millisecond(at.unix_ms())
                .ok()
                .map(|t| t.to_zoned(tz.clone()).date())
        };
        let days = local_date(now)?.until(local_date(ready)?).ok()?.get_days();
        Some(match days {
            i32::MIN..=0 => "same day",
            1 => "next day",
            2 => "2-day",
            3 => "3-day",
            4 => "4-day",
            5 => "5-day",
            6 => "6-day",
            _ => "multi-week",
        })
    }

    /// The pickup promise the store usually keeps, as shopping feeds mean it: the SLA of an
    /// order placed as the store opens, on each day of the week after `from` that it opens —
    /// the most common one (a tie: the longer). It does not depend on the hour it is asked
    /// (a nightly export would otherwise say `next day` everywhere). `None`: never opens.
    pub fn usual_pickup_sla(&self, from: kernel::Timestamp) -> Option<&'static str> {
        let tz = jiff::tz::TimeZone::get(&self.time_zone).ok()?;
        let start = jiff::Timestamp::from_millisecond(from.unix_ms())
            .ok()?
            .to_zoned(tz.clone());
        let mut promises: Vec<&'static str> = Vec::new();
        for offset in 1..=7i64 {
            let day = start
                .date()
                .checked_add(jiff::Span::new().days(offset))
                .ok()?;
            let weekday = day.weekday().to_monday_zero_offset() as usize;
            let Some(first) = self
                .opening_hours
                .day(weekday)
                .iter()
                .map(|r| r.opens_min)
                .min()
            else {
                continue;
            };
            let time = jiff::civil::Time::new((first / 60) as i8, (first % 60) as i8, 0, 0).ok()?;
            let opens = day.to_datetime(time).to_zoned(tz.clone()).ok()?.timestamp();
            promises
                .extend(self.pickup_sla(kernel::Timestamp::from_unix_ms(opens.as_millisecond())));
        }
        const ORDER: [&str; 8] = [
            "same day",
            "next day",
            "2-day",
            "3-day",
            "4-day",
            "5-day",
            "6-day",
            "multi-week",
        ];
        let rank = |p: &str| ORDER.iter().position(|o| *o == p).unwrap_or(ORDER.len());
        let count = |p: &str| promises.iter().filter(|q| **q == p).count();
        promises.iter().copied().max_by_key(|p| (count(p), rank(p)))
    }

    /// Whether the location is open at `at`, by its opening hours in its own time zone.
    pub fn is_open_at(&self, at: kernel::Timestamp) -> bool {
        self.local_time(at)
            .is_some_and(|(day, minute)| self.opening_hours.is_open(day, minute))
    }
}

#[cfg(test)]
mod local_time_tests {
    use super::*;

    fn store(lead_min: i64, hours: (&str, &str)) -> Location {
        let mut opening_hours = OpeningHours::default();
        for day in &WEEKDAYS[..6] {
            opening_hours.weekly.insert(
                (*day).into(),
                vec![TimeRange::parse(day, hours.0, hours.1).unwrap()],
            );
        }
        let now = kernel::Timestamp::now();
        Location {
            code: "LYS".into(),
            name: "Lyon".into(),
            kind: LocationKind::Store,
            address: Address {
                line1: "1 rue".into(),
                line2: None,
                postal_code: "69002".into(),
                city: "Lyon".into(),
                country: "FR".into(),
            },
            coordinates: Coordinates {
                latitude: 45.76,
                longitude: 4.83,
            },
            time_zone: "Europe/Paris".into(),
            opening_hours,
            owner: Owner {
                kind: OwnerKind::Company,
                name: "Relais".into(),
            },
            capabilities: [Capability::Pickup].into_iter().collect(),
            phone: None,
            email: None,
            pickup_lead_min: lead_min,
            active: true,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn the_usual_promise_does_not_depend_on_the_hour_it_is_asked() {
        let lyon = store(60, ("10:00", "19:00"));
        // 22:27 in Paris (21:27 UTC in winter): an order now is ready tomorrow, but the
        // store's usual promise is the same day.
        let late = kernel::Timestamp::parse("2026-12-08T21:27:00Z").unwrap();
        assert_eq!(lyon.pickup_sla(late), Some("next day"));
        assert_eq!(lyon.usual_pickup_sla(late), Some("same day"));
        let morning = kernel::Timestamp::parse("2026-12-08T09:30:00Z").unwrap();
        assert_eq!(lyon.usual_pickup_sla(morning), Some("same day"));
        // A lead time longer than a day's opening: the next day, whenever it is asked.
        let slow = store(10 * 60, ("10:00", "19:00"));
        assert_eq!(slow.usual_pickup_sla(late), Some("next day"));
        assert_eq!(slow.usual_pickup_sla(morning), Some("next day"));
    }

    #[test]
    fn opening_follows_the_local_clock_across_dst() {
        let mut hours = OpeningHours::default();
        for day in WEEKDAYS {
            hours.weekly.insert(
                day.into(),
                vec![TimeRange::parse(day, "10:00", "19:00").unwrap()],
            );
        }
        let l = Location {
            code: "PAR".into(),
            name: "Paris".into(),
            kind: LocationKind::Store,
            address: Address {
                line1: "1".into(),
                line2: None,
                postal_code: "75001".into(),
                city: "Paris".into(),
                country: "FR".into(),
            },
            coordinates: Coordinates {
                latitude: 48.86,
                longitude: 2.34,
            },
            time_zone: "Europe/Paris".into(),
            opening_hours: hours,
            owner: Owner {
                kind: OwnerKind::Company,
                name: "X".into(),
            },
            capabilities: BTreeSet::new(),
            phone: None,
            email: None,
            pickup_lead_min: 60,
            active: true,
            version: 1,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        };
        let t = |s: &str| Timestamp::parse(s).unwrap();
        // Winter (UTC+1): 09:30 UTC is 10:30 local; summer (UTC+2): 08:30 UTC is 10:30 local.
        assert!(l.is_open_at(t("2026-01-15T09:30:00Z")));
        assert!(!l.is_open_at(t("2026-01-15T08:30:00Z")));
        assert!(l.is_open_at(t("2026-07-15T08:30:00Z")));
        assert!(!l.is_open_at(t("2026-07-15T17:30:00Z")));
        assert_eq!(l.local_time(t("2026-11-26T12:00:00Z")), Some((3, 13 * 60)));
    }

    #[test]
    fn pickup_ready_by_follows_lead_time_and_opening_hours() {
        let mut hours = OpeningHours::default();
        for day in ["mon", "tue", "wed", "thu", "fri", "sat"] {
            hours.weekly.insert(
                day.into(),
                vec![
                    TimeRange::parse(day, "10:00", "12:30").unwrap(),
                    TimeRange::parse(day, "14:00", "19:00").unwrap(),
                ],
            );
        }
        let mut l = Location {
            code: "GNB".into(),
            name: "Grenoble".into(),
            kind: LocationKind::Store,
            address: Address {
                line1: "1".into(),
                line2: None,
                postal_code: "38000".into(),
                city: "Grenoble".into(),
                country: "FR".into(),
            },
            coordinates: Coordinates {
                latitude: 45.19,
                longitude: 5.72,
            },
            time_zone: "Europe/Paris".into(),
            opening_hours: hours,
            owner: Owner {
                kind: OwnerKind::Franchisee,
                name: "X".into(),
            },
            capabilities: BTreeSet::new(),
            phone: None,
            email: None,
            pickup_lead_min: 60,
            active: true,
            version: 1,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        };
        let t = |s: &str| Timestamp::parse(s).unwrap();
        let ready = |l: &Location, now: &str| l.pickup_ready_by(t(now)).map(|r| r.to_text());
        // Thursday 26 Nov 2026, Paris is UTC+1. 09:00 local + 1 h = 10:00, the opening.
        assert_eq!(
            ready(&l, "2026-11-26T08:00:00Z").as_deref(),
            Some("2026-11-26T09:00:00.000000Z")
        );
        // 11:45 local + 1 h = 12:45: closed for lunch, ready at 14:00.
        assert_eq!(
            ready(&l, "2026-11-26T10:45:00Z").as_deref(),
            Some("2026-11-26T13:00:00.000000Z")
        );
        // 18:30 local Saturday + 1 h: closed Sunday, ready Monday 10:00.
        assert_eq!(
            ready(&l, "2026-11-28T17:30:00Z").as_deref(),
            Some("2026-11-30T09:00:00.000000Z")
        );
        // Across the spring DST change (29 March 2026): Saturday evening → Monday 10:00 CEST = 08:00 UTC.
        assert_eq!(
            ready(&l, "2026-03-28T18:30:00Z").as_deref(),
            Some("2026-03-30T08:00:00.000000Z")
        );
        // The same promises in feed terms: same day, same day, Saturday evening → Monday.
        let sla = |l: &Location, now: &str| l.pickup_sla(t(now));
        assert_eq!(sla(&l, "2026-11-26T08:00:00Z"), Some("same day"));
        assert_eq!(sla(&l, "2026-11-26T17:30:00Z"), Some("next day"));
        assert_eq!(sla(&l, "2026-11-28T17:30:00Z"), Some("2-day"));
        l.pickup_lead_min = 8 * 24 * 60;
        assert_eq!(sla(&l, "2026-11-26T08:00:00Z"), Some("multi-week"));
        l.opening_hours = OpeningHours::default();
        assert_eq!(ready(&l, "2026-11-26T08:00:00Z"), None);
        assert_eq!(sla(&l, "2026-11-26T08:00:00Z"), None);
    }
}
