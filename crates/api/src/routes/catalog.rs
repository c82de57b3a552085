//! `/v1/products`, `/v1/variants`, `/v1/categories`: the one catalogue every channel reads.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use catalog::{
    Image, NewProduct, NewVariant, Product, ProductPatch, ProductStatus, Variant, VariantPatch,
};
use kernel::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, PageParams, page_of, present, reply, stored, stored_version};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::precondition::{self, with_etag};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, update_product))
        .routes(routes!(add_variant))
        .routes(routes!(list_variants))
        .routes(routes!(get_variant, update_variant))
        .routes(routes!(list_categories))
}

/// Whether a product or variant is on sale.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusDto {
    Active,
    Archived,
}

impl From<StatusDto> for ProductStatus {
    fn from(s: StatusDto) -> Self {
        match s {
            StatusDto::Active => ProductStatus::Active,
            StatusDto::Archived => ProductStatus::Archived,
        }
    }
}

impl From<ProductStatus> for StatusDto {
    fn from(s: ProductStatus) -> Self {
        match s {
            ProductStatus::Active => StatusDto::Active,
            ProductStatus::Archived => StatusDto::Archived,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageDto {
    /// Absolute URL (`https://…`) or a path on the retailer's media host (`/media/…`).
    #[schema(
        pattern = r"^(https?://|/)[^\x00-\x1F\x7F-\x9F\s]+$",
        max_length = 2000
    )]
    pub url: String,
    #[serde(default)]
    #[schema(pattern = r"^[^\x00-\x1F\x7F-\x9F]*$", max_length = 300)]
    pub alt: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVariant {
    /// Unique stock-keeping unit: letters, digits, `.`, `_`, `-`.
    #[schema(example = "TR500-BLU-42", pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub sku: String,
    /// GTIN-8, -12, -13 or -14 with a valid check digit; stored as 14 digits.
    #[schema(example = "3608419316520", pattern = r"^([0-9]{8}|[0-9]{12,14})$")]
    pub gtin: Option<String>,
    /// Defaults to the product title followed by the attribute values.
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 300
    )]
    pub title: Option<String>,
    /// What distinguishes the variant, e.g. `{"size": "42", "colour": "blue"}`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Packed for shipping, in grams: weight-band delivery rates need it.
    #[schema(minimum = 1, maximum = 1000000)]
    pub weight_grams: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 300
    )]
    pub title: String,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 0,
        max_length = 10000
    )]
    pub description: Option<String>,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 0,
        max_length = 100
    )]
    pub brand: Option<String>,
    /// Slug path, e.g. `footwear/running`.
    #[schema(pattern = r"^[a-z0-9-]{1,40}(/[a-z0-9-]{1,40}){0,4}$")]
    pub category: String,
    /// VAT category (`standard` by default; France also has `intermediate`, `reduced`,
    /// `super_reduced`): its rate is the tax table's of the country an order is taxed in.
    #[schema(pattern = r"^[a-z0-9_]{1,40}$")]
    pub tax_category: Option<String>,
    /// Keys: lower-case letters, digits, `_`; at most 50.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub images: Vec<ImageDto>,
    /// 1 to 200 variants.
    #[schema(min_items = 1, max_items = 200)]
    pub variants: Vec<CreateVariant>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchProduct {
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 300
    )]
    pub title: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub brand: Option<Option<String>>,
    #[schema(pattern = r"^[a-z0-9-]{1,40}(/[a-z0-9-]{1,40}){0,4}$")]
    pub category: Option<String>,
    #[schema(pattern = r"^[a-z0-9_]{1,40}$")]
    pub tax_category: Option<String>,
    /// Replaces all product attributes.
    pub attributes: Option<BTreeMap<String, String>>,
    /// Replaces all images.
    pub images: Option<Vec<ImageDto>>,
    pub status: Option<StatusDto>,
    /// When given, the update applies only if the product is still at this version.
    pub expected_version: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchVariant {
    /// `null` removes the GTIN.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^([0-9]{8}|[0-9]{12,14})$")]
    pub gtin: Option<Option<String>>,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 300
    )]
    pub title: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
    /// `null` removes the weight.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    pub weight_grams: Option<Option<i64>>,
    pub status: Option<StatusDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VariantDto {
    pub sku: String,
    pub product_id: String,
    /// 14 digits.
    pub gtin: Option<String>,
    pub title: String,
    pub attributes: BTreeMap<String, String>,
    /// Packed for shipping, in grams.
    pub weight_grams: Option<i64>,
    pub status: StatusDto,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductDto {
    #[schema(example = "prd_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b")]
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub brand: Option<String>,
    pub category: String,
    pub tax_category: String,
    pub attributes: BTreeMap<String, String>,
    pub images: Vec<ImageDto>,
    pub status: StatusDto,
    /// Increases with every update; send it back as `expected_version` to avoid lost updates.
    pub version: i64,
    pub variants: Vec<VariantDto>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

page_of!(ProductPage, ProductDto);
page_of!(VariantPage, VariantDto);

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryDto {
    pub category: String,
    pub products: i64,
}

page_of!(CategoryPage, CategoryDto);

impl From<Variant> for VariantDto {
    fn from(v: Variant) -> Self {
        VariantDto {
            sku: v.sku,
            product_id: v.product_id,
            gtin: v.gtin.map(String::from),
            title: v.title,
            attributes: v.attributes,
            weight_grams: v.weight_grams,
            status: v.status.into(),
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

fn image_to_dto(i: Image) -> ImageDto {
    ImageDto {
        url: i.url,
        alt: i.alt,
    }
}

fn image_from_dto(i: ImageDto) -> Image {
    Image {
        url: i.url,
        alt: i.alt,
    }
}

impl From<Product> for ProductDto {
    fn from(p: Product) -> Self {
        ProductDto {
            id: p.id,
            title: p.title,
            description: p.description,
            brand: p.brand,
            category: p.category,
            tax_category: p.tax_category,
            attributes: p.attributes,
            images: p.images.into_iter().map(image_to_dto).collect(),
            status: p.status.into(),
            version: p.version,
            variants: p.variants.into_iter().map(VariantDto::from).collect(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

impl From<CreateVariant> for NewVariant {
    fn from(v: CreateVariant) -> Self {
        NewVariant {
            sku: v.sku,
            gtin: v.gtin,
            title: v.title,
            attributes: v.attributes,
            weight_grams: v.weight_grams,
        }
    }
}

impl From<CreateProduct> for NewProduct {
    fn from(p: CreateProduct) -> Self {
        NewProduct {
            title: p.title,
            description: p.description,
            brand: p.brand,
            category: p.category,
            tax_category: p.tax_category,
            attributes: p.attributes,
            images: p.images.into_iter().map(image_from_dto).collect(),
            variants: p.variants.into_iter().map(NewVariant::from).collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// A category and everything below it.
    pub category: Option<String>,
    pub status: Option<StatusDto>,
    pub brand: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List products (with their variants), oldest first.
#[utoipa::path(get, path = "/v1/products", tag = "catalogue", params(ProductQuery),
    responses((status = 200, body = ProductPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_products(
    State(s): State<AppState>,
    _p: Principal,
    Q(q): Q<ProductQuery>,
) -> ApiResult<Json<ProductPage>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let filter = store::catalog::ProductFilter {
        category: q.category,
        status: q.status.map(Into::into),
        brand: q.brand,
    };
    let found = store::catalog::list_products(&s.db, &filter, &page).await?;
    Ok(Json(found.map(ProductDto::from).into()))
}

/// Create a product with its variants (admin).
#[utoipa::path(post, path = "/v1/products", tag = "catalogue", request_body = CreateProduct,
    params(IdempotencyHeader),
    responses((status = 201, body = ProductDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_product(State(s): State<AppState>, w: Write<CreateProduct>) -> ApiResult<Response> {
    let new = NewProduct::from(w.body);
    let render = |p| stored(201, &ProductDto::from(p));
    let response =
        app::catalog::create_product(&s.db, &w.principal, new, w.idempotency, render).await?;
    Ok(reply(response))
}

/// Get one product with its variants.
#[utoipa::path(get, path = "/v1/products/{id}", tag = "catalogue", params(("id" = String, Path)),
    responses((status = 200, body = ProductDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_product(
    State(s): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let product = store::catalog::get_product(&s.db, &id).await?;
    let version = product.version;
    Ok(with_etag(
        Json(ProductDto::from(product)).into_response(),
        Some(version),
    ))
}

/// Change a product (admin). Absent fields stay as they are.
#[utoipa::path(patch, path = "/v1/products/{id}", tag = "catalogue", request_body = PatchProduct,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = ProductDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_product(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    w: Write<PatchProduct>,
) -> ApiResult<Response> {
    let b = w.body;
    let (expected, by_header) = precondition::expected_version(&headers, b.expected_version)?;
    let patch = ProductPatch {
        title: b.title,
        description: b.description,
        brand: b.brand,
        category: b.category,
        tax_category: b.tax_category,
        attributes: b.attributes,
        images: b
            .images
            .map(|i| i.into_iter().map(image_from_dto).collect()),
        status: b.status.map(Into::into),
    };
    let render = |p| stored(200, &ProductDto::from(p));
    let response = app::catalog::update_product(
        &s.db,
        &w.principal,
        id,
        patch,
        expected,
        w.idempotency,
        render,
    )
    .await
    .map_err(|e| precondition::from_if_match(e, by_header))?;
    let version = stored_version(&response);
    Ok(with_etag(reply(response), version))
}

/// Add a variant to a product (admin).
#[utoipa::path(post, path = "/v1/products/{id}/variants", tag = "catalogue", request_body = CreateVariant,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 201, body = VariantDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_variant(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<CreateVariant>,
) -> ApiResult<Response> {
    let new = NewVariant::from(w.body);
    let render = |v| stored(201, &VariantDto::from(v));
    let response =
        app::catalog::add_variant(&s.db, &w.principal, id, new, w.idempotency, render).await?;
    Ok(reply(response))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VariantQuery {
    pub product_id: Option<String>,
    /// Any GTIN form (8, 12, 13 or 14 digits).
    #[param(pattern = r"^([0-9]{8}|[0-9]{12,14})$")]
    pub gtin: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List variants in SKU order; look one up by GTIN (a scanned barcode).
#[utoipa::path(get, path = "/v1/variants", tag = "catalogue", params(VariantQuery),
    responses((status = 200, body = VariantPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_variants(
    State(s): State<AppState>,
    _p: Principal,
    Q(q): Q<VariantQuery>,
) -> ApiResult<Json<VariantPage>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let gtin = q
        .gtin
        .map(|g| {
            catalog::Gtin::parse(&g).map(String::from).map_err(|e| {
                kernel::Error::new(
                    kernel::ErrorCode::InvalidQuery,
                    format!("invalid GTIN: {e}"),
                )
                .with("field", "gtin")
            })
        })
        .transpose()?;
    let filter = store::catalog::VariantFilter {
        product_id: q.product_id,
        gtin,
    };
    let found = store::catalog::list_variants(&s.db, &filter, &page).await?;
    Ok(Json(found.map(VariantDto::from).into()))
}

/// Get one variant by SKU.
#[utoipa::path(get, path = "/v1/variants/{sku}", tag = "catalogue", params(("sku" = String, Path)),
    responses((status = 200, body = VariantDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_variant(
    State(s): State<AppState>,
    _p: Principal,
    Path(sku): Path<String>,
) -> ApiResult<Json<VariantDto>> {
    Ok(Json(store::catalog::get_variant(&s.db, &sku).await?.into()))
}

/// Change a variant (admin).
#[utoipa::path(patch, path = "/v1/variants/{sku}", tag = "catalogue", request_body = PatchVariant,
    params(("sku" = String, Path), IdempotencyHeader),
    responses((status = 200, body = VariantDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_variant(
    State(s): State<AppState>,
    Path(sku): Path<String>,
    w: Write<PatchVariant>,
) -> ApiResult<Response> {
    let b = w.body;
    let patch = VariantPatch {
        gtin: b.gtin,
        title: b.title,
        attributes: b.attributes,
        weight_grams: b.weight_grams,
        status: b.status.map(Into::into),
    };
    let render = |v| stored(200, &VariantDto::from(v));
    let response =
        app::catalog::update_variant(&s.db, &w.principal, sku, patch, w.idempotency, render)
            .await?;
    Ok(reply(response))
}

/// Categories in use, with their number of products.
#[utoipa::path(get, path = "/v1/categories", tag = "catalogue", params(PageParams),
    responses((status = 200, body = CategoryPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_categories(
    State(s): State<AppState>,
    _p: Principal,
    Q(q): Q<PageParams>,
) -> ApiResult<Json<CategoryPage>> {
    let found = store::catalog::list_categories(&s.db, &q.request()?).await?;
    Ok(Json(
        found
            .map(|c| CategoryDto {
                category: c.category,
                products: c.products,
            })
            .into(),
    ))
}
