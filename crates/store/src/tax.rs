//! VAT tables in SQL: one per country, its rates by tax category and whether its prices
//! include them. France is there from the start (migration 14).

use kernel::{Error, Timestamp};
use outbox::Event;
use promotions::tax::{PriceBasis, TaxTable};

use crate::sql::{Conn, Row};
use crate::{Db, events, params, rows};

fn from_row(row: &Row) -> Result<TaxTable, Error> {
    Ok(TaxTable {
        country: row.text("country")?,
        basis: match row.text("basis")?.as_str() {
            "exclusive" => PriceBasis::Exclusive,
            _ => PriceBasis::Inclusive,
        },
        rates: rows::json(row, "rates")?,
    })
}

fn basis_text(b: PriceBasis) -> &'static str {
    match b {
        PriceBasis::Inclusive => "inclusive",
        PriceBasis::Exclusive => "exclusive",
    }
}

/// Every country's table (a handful: read whole).
pub async fn all(conn: &mut Conn) -> Result<Vec<TaxTable>, Error> {
    conn.query(
        "SELECT country, basis, rates FROM tax_tables ORDER BY country",
        &[],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

pub async fn get(db: &Db, country: &str) -> Result<TaxTable, Error> {
    db.read()
        .await?
        .query_opt(
            "SELECT country, basis, rates FROM tax_tables WHERE country = $1",
            params![country],
        )
        .await?
        .map(|r| from_row(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found("tax table", country))
}

/// Sets a country's table (insert or replace).
pub async fn set(conn: &mut Conn, table: &TaxTable, actor: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO tax_tables (country, basis, rates, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (country) DO UPDATE SET basis = excluded.basis, rates = excluded.rates,
                                            updated_at = excluded.updated_at",
        params![
            &table.country,
            basis_text(table.basis),
            rows::to_json(&table.rates),
            Timestamp::now().to_text()
        ],
    )
    .await?;
    events::emit(conn, Event::TaxTableSet(table), &table.country, actor).await
}
