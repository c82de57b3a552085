//! `/v1/tax-tables`: VAT rates per country and tax category, and whether prices include
//! them. Every key reads them; admin keys set them.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use promotions::tax::{PriceBasis, TaxTable};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, reply, stored, wire_enum};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tables))
        .routes(routes!(get_table, set_table))
}

wire_enum!(
    /// `inclusive`: prices include VAT (consumer prices in the EU); `exclusive`: VAT is added.
    PriceBasisDto <=> PriceBasis { Inclusive, Exclusive }
);

#[derive(Debug, Serialize, ToSchema)]
pub struct TaxTableDto {
    #[schema(example = "FR")]
    pub country: String,
    pub basis: PriceBasisDto,
    /// Tax category → rate in basis points (2000 = 20 %).
    #[schema(example = json!({"standard": 2000, "intermediate": 1000, "reduced": 550, "super_reduced": 210}))]
    pub rates: BTreeMap<String, i64>,
}

impl From<TaxTable> for TaxTableDto {
    fn from(t: TaxTable) -> Self {
        TaxTableDto {
            country: t.country,
            basis: t.basis.into(),
            rates: t.rates,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaxTableList {
    pub data: Vec<TaxTableDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTaxTable {
    pub basis: PriceBasisDto,
    /// Tax category → rate in basis points (0 to 10000).
    pub rates: BTreeMap<String, i64>,
}

/// Every country's VAT table.
#[utoipa::path(get, path = "/v1/tax-tables", tag = "prices",
    responses((status = 200, body = TaxTableList), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_tables(State(s): State<AppState>, _p: Principal) -> ApiResult<Json<TaxTableList>> {
    let data = app::taxes::all(&s.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(TaxTableList { data }))
}

/// One country's VAT table.
#[utoipa::path(get, path = "/v1/tax-tables/{country}", tag = "prices", params(("country" = String, Path)),
    responses((status = 200, body = TaxTableDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_table(
    State(s): State<AppState>,
    _p: Principal,
    Path(country): Path<String>,
) -> ApiResult<Json<TaxTableDto>> {
    Ok(Json(app::taxes::get(&s.db, &country).await?.into()))
}

/// Set a country's VAT table (admin): it applies to orders placed from now on.
#[utoipa::path(put, path = "/v1/tax-tables/{country}", tag = "prices", request_body = SetTaxTable,
    params(("country" = String, Path, description = "ISO 3166-1 alpha-2", pattern = r"^[A-Z]{2}$"), IdempotencyHeader),
    responses((status = 200, body = TaxTableDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_table(
    State(s): State<AppState>,
    Path(country): Path<String>,
    w: Write<SetTaxTable>,
) -> ApiResult<Response> {
    let table = TaxTable {
        country,
        basis: w.body.basis.into(),
        rates: w.body.rates,
    };
    let render = |t| stored(200, &TaxTableDto::from(t));
    let response =
        app::taxes::set(&s.reference, &w.principal, table, w.idempotency, render).await?;
    Ok(reply(response))
}
