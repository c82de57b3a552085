//! GDPR rights in SQL: the export of everything Relais holds about a person (Art. 15 and 20)
//! and erasure (Art. 17).
//!
//! Erasure removes or blanks personal data everywhere it is kept — profile names, every
//! identity, saved and delivery addresses, event identifiers and properties, interaction
//! summaries, the identifiers
//! recorded with merges and reviews, stored idempotent responses that quote them — of the
//! profile and of every profile merged into it. Rows that other ledgers need stay, without
//! personal data: the profile id (a random UUID that identifies no one once its identities
//! are gone), event types and times, consent records (the proof of lawful processing), merge
//! records. Outbox events never carry names or identifier values (see `customers`), so the
//! event log needs no rewriting. A `relais.customer.erased` event tells downstream systems.

use customers::{ConsentRecord, Identity, Interaction, Profile};
use kernel::{Error, ErrorCode, Timestamp};
use serde::Serialize;

use crate::customers::{MergeRecord, MergeReview};
use crate::sql::Conn;
use crate::{Db, events, params, rows};

/// One stored behavioural event, as exported.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedEvent {
    pub seq: i64,
    pub channel: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub location_code: Option<String>,
    pub identifiers: serde_json::Value,
    pub properties: serde_json::Value,
    pub occurred_at: Timestamp,
    pub received_at: Timestamp,
}

/// Everything about one person.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub exported_at: Timestamp,
    pub profile: Profile,
    /// Profiles merged into this one over time.
    pub merged_profiles: Vec<String>,
    pub identities: Vec<Identity>,
    /// Postal addresses saved for delivery.
    pub addresses: Vec<crate::addresses::SavedAddress>,
    pub consents: Vec<ConsentRecord>,
    pub interactions: Vec<Interaction>,
    pub events: Vec<ExportedEvent>,
    pub merges: Vec<MergeRecord>,
    pub reviews: Vec<MergeReview>,
    /// Orders from every channel, with lines and payments.
    pub orders: Vec<crate::orders::Order>,
    /// Returns of those orders.
    pub returns: Vec<crate::returns::Return>,
    /// The loyalty membership, if any, and every entry of its points ledger.
    pub loyalty: Option<crate::loyalty::Member>,
    pub loyalty_entries: Vec<crate::loyalty::Entry>,
    /// Store credits and gift cards bound to the profile (never a code nor a PIN).
    pub stored_value: Vec<crate::stored_value::Account>,
}

/// Reads the export from one reader connection (one snapshot on PostgreSQL's default
/// isolation per statement; the parts are each consistent).
pub async fn export(db: &Db, customer_id: &str) -> Result<Export, Error> {
    crate::customer_events::catch_up(db).await?;
    let mut conn = db.read().await?;
    let id = crate::customers::active_id(&mut conn, customer_id).await?;
    let profile = crate::customers::find_profile(&mut conn, &id)
        .await?
        .ok_or_else(|| Error::not_found("customer", &id))?;
    let merged_profiles = merged_into(&mut conn, &id).await?;
    let identities = crate::customers::identities(&mut conn, &id).await?;
    let addresses = crate::addresses::of_customer(&mut conn, &id).await?;
    let consents = crate::consents::records(&mut conn, &id).await?;
    let interactions = crate::interactions::all_of(&mut conn, &id).await?;
    let events = conn
        .query(
            "SELECT seq, channel, type, location_code, identifiers, properties, occurred_at, received_at
             FROM customer_event_keys ek JOIN customer_events USING (seq)
             WHERE ek.customer_id = $1 ORDER BY occurred_at, seq",
            params![&id],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(ExportedEvent {
                seq: r.int("seq")?,
                channel: r.text("channel")?,
                kind: r.text("type")?,
                location_code: r.opt_text("location_code")?,
                identifiers: rows::json(r, "identifiers")?,
                properties: rows::json(r, "properties")?,
                occurred_at: rows::timestamp(r, "occurred_at")?,
                received_at: rows::timestamp(r, "received_at")?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let orders = crate::orders::all_of(&mut conn, &id).await?;
    let loyalty = crate::loyalty::member(&mut conn, &id).await?;
    let loyalty_entries = crate::loyalty::entries(&mut conn, &id, None, i64::MAX).await?;
    drop(conn);
    let stored_value = crate::stored_value::of_customer(db, &id).await?;
    let mut returns = Vec::new();
    for order in &orders {
        returns.extend(crate::returns::of_order(db, &order.id).await?);
    }
    let merges = crate::customers::merge_history(db, &id).await?;
    let reviews = crate::customers::reviews_of(db, &id).await?;
    Ok(Export {
        exported_at: Timestamp::now(),
        profile,
        merged_profiles,
        identities,
        addresses,
        consents,
        interactions,
        events,
        merges,
        reviews,
        orders,
        returns,
        loyalty,
        loyalty_entries,
        stored_value,
    })
}

async fn merged_into(conn: &mut Conn, id: &str) -> Result<Vec<String>, Error> {
    conn.query(
        "SELECT id FROM customers WHERE merged_into = $1 ORDER BY id",
        params![id],
    )
    .await?
    .iter()
    .map(|r| r.text("id"))
    .collect()
}

/// What an erasure did (also the payload of `relais.customer.erased`).
pub use outbox::payloads::Erased as Erasure;

/// `LIKE` pattern matching `value` anywhere, with `%`, `_` and `\` taken literally.
fn contains_pattern(value: &str) -> String {
    let mut p = String::with_capacity(value.len() + 2);
    p.push('%');
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The tables erasure deletes from or blanks: vacuumed after it on PostgreSQL.
pub const ERASED_TABLES: &[&str] = &[
    "customers",
    "customer_identities",
    "customer_events",
    "customer_merges",
    "merge_reviews",
    "interactions",
    "customer_event_quarantine",
    "idempotency_keys",
    "customer_addresses",
    "orders",
    "notifications",
];

/// Removes the erased rows' old versions from the database files, once erasure committed
/// (see [`Db::scrub`]).
pub async fn scrub_after_erasure(db: &Db) -> Result<(), Error> {
    db.scrub(ERASED_TABLES).await
}

/// Erases a person (the active profile `customer_id` stands for). Runs as one command.
pub async fn erase(
    conn: &mut Conn,
    customer_id: &str,
    rules: crate::customers::ResolutionRules,
    actor: &str,
) -> Result<Erasure, Error> {
    // Events not yet resolved and keyed would escape the erasure.
    crate::customer_events::resolve_all(conn, rules).await?;
    let id = crate::customers::active_id(conn, customer_id).await?;
    let merged_profiles = merged_into(conn, &id).await?;
    let now = Timestamp::now();
    let profile = crate::customers::find_profile(conn, &id)
        .await?
        .ok_or_else(|| Error::not_found("customer", &id))?;
    // Values that may be quoted in stored responses: identifiers and names.
    let mut quoted: Vec<String> = crate::customers::identities(conn, &id)
        .await?
        .into_iter()
        .map(|i| i.identifier.value)
        .collect();
    quoted.extend(
        profile
            .given_name
            .iter()
            .chain(&profile.family_name)
            .cloned(),
    );
    quoted.push(id.clone());
    quoted.extend(merged_profiles.iter().cloned());

    quoted.extend(crate::addresses::delete_all(conn, &id).await?);
    quoted.extend(crate::orders::erase_ship_addresses(conn, &id).await?);
    crate::notifications::erase(conn, &id, now).await?;
    crate::loyalty::erase(conn, &id).await?;
    crate::stored_value::erase(conn, &id).await?;
    let identities_removed = crate::customers::delete_identities(conn, &id).await?;
    let events_pseudonymised = conn
        .execute(
            "UPDATE customer_events SET identifiers = '[]', properties = '{}'
             WHERE seq IN (SELECT seq FROM customer_event_keys WHERE customer_id = $1)",
            params![&id],
        )
        .await?;
    let interactions_blanked = conn
        .execute(
            "UPDATE interactions SET summary = '[erased]' WHERE customer_id = $1",
            params![&id],
        )
        .await?;
    conn.execute(
        "UPDATE customer_merges SET identifiers = '[]' WHERE survivor_id = $1 OR absorbed_id = $1
            OR absorbed_id IN (SELECT id FROM customers WHERE merged_into = $1)",
        params![&id],
    )
    .await?;
    conn.execute(
        "UPDATE merge_reviews SET identifiers = '[]',
            status = CASE WHEN status = 'open' THEN 'dismissed' ELSE status END,
            decided_at = COALESCE(decided_at, $2), decided_by = COALESCE(decided_by, $3)
         WHERE customer_a = $1 OR customer_b = $1",
        params![&id, now.to_text(), actor],
    )
    .await?;
    conn.execute(
        "UPDATE customers SET given_name = NULL, family_name = NULL, home_store = NULL, updated_at = $2, version = version + 1
         WHERE merged_into = $1",
        params![&id, now.to_text()],
    )
    .await?;
    let erased = conn
        .execute(
            "UPDATE customers SET status = 'erased', given_name = NULL, family_name = NULL, home_store = NULL,
                updated_at = $2, version = version + 1
             WHERE id = $1 AND status = 'active'",
            params![&id, now.to_text()],
        )
        .await?;
    if erased != 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the profile changed meanwhile; retry",
        ));
    }
    let mut set_aside_blanked = 0;
    for value in quoted.iter().filter(|v| v.len() >= 4) {
        conn.execute(
            "DELETE FROM idempotency_keys WHERE body LIKE $1 ESCAPE '\\'",
            params![contains_pattern(value)],
        )
        .await?;
        // Events the resolver set aside have no profile: those naming the person are known
        // by what they contain.
        set_aside_blanked += conn
            .execute(
                "UPDATE customer_events SET identifiers = '[]', properties = '{}'
                  WHERE seq IN (SELECT seq FROM customer_event_quarantine)
                    AND (identifiers LIKE $1 ESCAPE '\\' OR properties LIKE $1 ESCAPE '\\')",
                params![contains_pattern(value)],
            )
            .await?;
    }
    let erasure = Erasure {
        customer_id: id.clone(),
        merged_profiles,
        identities_removed,
        events_pseudonymised: events_pseudonymised + set_aside_blanked,
        interactions_blanked,
        erased_at: now,
    };
    events::emit(conn, outbox::Event::CustomerErased(&erasure), &id, actor).await?;
    Ok(erasure)
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("a_b%c\\d"), "%a\\_b\\%c\\\\d%");
    }
}
