//! Segments in SQL: a rule (`customers::segment::Rule`) compiles to a condition over the
//! `customers` row `c`, with correlated sub-queries on the indexed events, identities and
//! consents of the profile. Members are computed when asked, so they are always current.

use customers::Profile;
use customers::segment::{Rule, Segment};
use kernel::{Error, ErrorCode, Page, PageRequest, Timestamp};
use outbox::Event;

use crate::sql::{Conn, Row, Value};
use crate::{Db, events, params, rows};

fn from_row(row: &Row) -> Result<Segment, Error> {
    Ok(Segment {
        code: row.text("code")?,
        name: row.text("name")?,
        rule: rows::json(row, "definition")?,
        created_at: rows::timestamp(row, "created_at")?,
        updated_at: rows::timestamp(row, "updated_at")?,
    })
}

pub async fn create(conn: &mut Conn, s: &Segment, actor: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO segments (code, name, definition, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $4, 1)",
        params![&s.code, &s.name, rows::to_json(&s.rule), s.created_at.to_text()],
    )
    .await
    .map_err(|e| {
        if e.code == ErrorCode::AlreadyExists {
            Error::already_exists("segment", &s.code).with("field", "code")
        } else {
            e
        }
    })?;
    events::emit(conn, Event::SegmentCreated(s), &s.code, actor).await
}

pub async fn get(db: &Db, code: &str) -> Result<Segment, Error> {
    db.read()
        .await?
        .query_opt(
            "SELECT code, name, definition, created_at, updated_at FROM segments WHERE code = $1",
            params![code],
        )
        .await?
        .as_ref()
        .map(from_row)
        .transpose()?
        .ok_or_else(|| Error::not_found("segment", code))
}

pub async fn list(db: &Db, page: &PageRequest) -> Result<Page<Segment>, Error> {
    let found = db
        .read()
        .await?
        .query(
            "SELECT code, name, definition, created_at, updated_at FROM segments
             WHERE code > $1 ORDER BY code LIMIT $2",
            params![page.after.clone().unwrap_or_default(), page.fetch_limit()],
        )
        .await?;
    let segments = found.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(segments, page, |s| s.code.clone()))
}

/// Adds a bind parameter and returns its placeholder.
fn bind(params: &mut Vec<Value>, v: impl Into<Value>) -> String {
    params.push(v.into());
    format!("${}", params.len())
}

fn days_ago(now: Timestamp, days: u32) -> String {
    Timestamp::from_unix_ms(now.unix_ms() - i64::from(days) * 86_400_000).to_text()
}

/// The rule as a SQL condition on `c` (a `customers` row).
fn compile(rule: &Rule, now: Timestamp, params: &mut Vec<Value>) -> String {
    match rule {
        Rule::All(rules) => join(rules, " AND ", now, params),
        Rule::Any(rules) => join(rules, " OR ", now, params),
        Rule::Not(inner) => format!("NOT ({})", compile(inner, now, params)),
        Rule::HomeStore(codes) => {
            let list: Vec<String> = codes.iter().map(|c| bind(params, c.as_str())).collect();
            format!("c.home_store IN ({})", list.join(", "))
        }
        Rule::CreatedWithinDays(days) => {
            format!("c.created_at >= {}", bind(params, days_ago(now, *days)))
        }
        Rule::LoyaltyTier(tiers) => {
            let list: Vec<String> = tiers.iter().map(|t| bind(params, t.as_str())).collect();
            format!(
                "EXISTS (SELECT 1 FROM loyalty_members m WHERE m.customer_id = c.id AND m.status = 'active' AND m.tier IN ({}))",
                list.join(", ")
            )
        }
        Rule::HasIdentity(kind) => format!(
            "EXISTS (SELECT 1 FROM customer_identities i WHERE i.customer_id = c.id AND i.kind = {})",
            bind(params, kind.as_str())
        ),
        Rule::EventCount(ec) => {
            let mut filter = format!(
                "ek.customer_id = c.id AND e.occurred_at >= {}",
                bind(params, days_ago(now, ec.within_days))
            );
            if let Some(kind) = &ec.kind {
                filter.push_str(&format!(" AND e.type = {}", bind(params, kind.as_str())));
            }
            if let Some(channel) = &ec.channel {
                filter.push_str(&format!(
                    " AND e.channel = {}",
                    bind(params, channel.as_str())
                ));
            }
            let count = format!(
                "(SELECT COUNT(*) FROM customer_event_keys ek JOIN customer_events e ON e.seq = ek.seq WHERE {filter})"
            );
            let mut cond = format!("{count} >= {}", bind(params, i64::from(ec.at_least)));
            if let Some(most) = ec.at_most {
                cond.push_str(&format!(
                    " AND {count} <= {}",
                    bind(params, i64::from(most))
                ));
            }
            format!("({cond})")
        }
        Rule::Consent(cc) => {
            // The last record for the purpose that names the channel or every channel decides,
            // exactly as `customers::consent::may_use`.
            let last = format!(
                "(SELECT k.status FROM consents k WHERE k.customer_id = c.id AND k.purpose = {} \
                 AND (k.channel IS NULL OR k.channel = {}) ORDER BY k.seq DESC LIMIT 1)",
                bind(params, cc.purpose.as_str()),
                bind(params, cc.channel.as_str())
            );
            if cc.granted {
                format!("COALESCE({last}, '') = 'granted'")
            } else {
                format!("COALESCE({last}, '') <> 'granted'")
            }
        }
    }
}

fn join(rules: &[Rule], op: &str, now: Timestamp, params: &mut Vec<Value>) -> String {
    let parts: Vec<String> = rules
        .iter()
        .map(|r| format!("({})", compile(r, now, params)))
        .collect();
    parts.join(op)
}

/// The profile columns, qualified by the alias `c` (rows read them unqualified).
const PROFILE_COLUMNS: &str = "c.id, c.status, c.merged_into, c.given_name, c.family_name, c.home_store, c.created_at, c.updated_at";

/// Active members in id order.
pub async fn members(db: &Db, rule: &Rule, page: &PageRequest) -> Result<Page<Profile>, Error> {
    crate::customer_events::catch_up(db).await?;
    let mut params = vec![
        Value::from(page.after.clone().unwrap_or_default()),
        Value::from(page.fetch_limit()),
    ];
    let condition = compile(rule, Timestamp::now(), &mut params);
    let sql = format!(
        "SELECT {PROFILE_COLUMNS} FROM customers c
         WHERE c.status = 'active' AND c.id > $1 AND ({condition}) ORDER BY c.id LIMIT $2"
    );
    let found = db.read().await?.query(&sql, &params).await?;
    let profiles = found
        .iter()
        .map(crate::profiles::profile_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(profiles, page, |p| p.id.clone()))
}

/// How many active profiles are members now.
pub async fn count(db: &Db, rule: &Rule) -> Result<i64, Error> {
    crate::customer_events::catch_up(db).await?;
    let mut params = Vec::new();
    let condition = compile(rule, Timestamp::now(), &mut params);
    let sql = format!(
        "SELECT COUNT(*) AS n FROM customers c WHERE c.status = 'active' AND ({condition})"
    );
    db.read().await?.query_one(&sql, &params).await?.int("n")
}

/// The codes of the segments a profile belongs to now.
pub async fn segments_of(db: &Db, customer_id: &str) -> Result<Vec<String>, Error> {
    crate::customer_events::catch_up(db).await?;
    let mut conn = db.read().await?;
    let all = conn
        .query(
            "SELECT code, name, definition, created_at, updated_at FROM segments ORDER BY code",
            &[],
        )
        .await?;
    let mut codes = Vec::new();
    for row in &all {
        let segment = from_row(row)?;
        let mut params = vec![Value::from(customer_id)];
        let condition = compile(&segment.rule, Timestamp::now(), &mut params);
        let sql = format!(
            "SELECT COUNT(*) AS n FROM customers c WHERE c.id = $1 AND c.status = 'active' AND ({condition})"
        );
        if conn.query_one(&sql, &params).await?.int("n")? > 0 {
            codes.push(segment.code);
        }
    }
    Ok(codes)
}
