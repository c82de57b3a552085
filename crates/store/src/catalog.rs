//! Products and variants in SQL.
//!
//! Writes take already-validated domain values (see the `catalog` crate) and run inside the
//! writer's transaction together with their outbox event. Updates are conditional on the
//! version read in the same transaction, so two nodes cannot overwrite each other silently.

use std::collections::BTreeMap;

use catalog::{NewVariant, Product, ProductPatch, ProductStatus, Variant, VariantPatch};
use kernel::error::field_path;
use kernel::{Error, ErrorCode, Page, PageRequest, Timestamp};
use outbox::Event;

use crate::rows::{self, to_json};
use crate::sql::{Conn, Row, Value, corrupt, placeholders};
use crate::{Db, events, params};

const PRODUCT_COLUMNS: &str = "id, title, description, brand, category, tax_category, attributes, images, status, version, created_at, updated_at";
const VARIANT_COLUMNS: &str =
    "sku, product_id, gtin, title, attributes, weight_grams, status, created_at, updated_at";

fn product_from_row(row: &Row) -> Result<Product, Error> {
    Ok(Product {
        id: row.text("id")?,
        title: row.text("title")?,
        description: row.opt_text("description")?,
        brand: row.opt_text("brand")?,
        category: row.text("category")?,
        tax_category: row.text("tax_category")?,
        attributes: rows::json(row, "attributes")?,
        images: rows::json(row, "images")?,
        status: parse_status(row)?,
        variants: Vec::new(),
        version: row.int("version")?,
        created_at: rows::timestamp(row, "created_at")?,
        updated_at: rows::timestamp(row, "updated_at")?,
    })
}

fn parse_status(row: &Row) -> Result<ProductStatus, Error> {
    let s = row.text("status")?;
    ProductStatus::parse(&s).ok_or_else(|| corrupt("status", &s))
}

fn variant_from_row(row: &Row) -> Result<Variant, Error> {
    let gtin = row
        .opt_text("gtin")?
        .map(|g| catalog::Gtin::parse(&g).map_err(|e| corrupt("gtin", &e.to_string())))
        .transpose()?;
    Ok(Variant {
        sku: row.text("sku")?,
        product_id: row.text("product_id")?,
        gtin,
        title: row.text("title")?,
        attributes: rows::json(row, "attributes")?,
        weight_grams: row.opt_int("weight_grams")?,
        status: parse_status(row)?,
        created_at: rows::timestamp(row, "created_at")?,
        updated_at: rows::timestamp(row, "updated_at")?,
    })
}

/// Maps a unique violation on a variant to a message that names the SKU or the GTIN.
fn variant_conflict(e: Error, field: &str, v: &Variant) -> Error {
    if e.code != ErrorCode::AlreadyExists {
        return e;
    }
    let constraint = e
        .details
        .get("constraint")
        .and_then(|c| c.as_str())
        .unwrap_or_default()
        .to_owned();
    let on_gtin = constraint.contains("gtin") || e.message.contains("gtin");
    match (&v.gtin, on_gtin) {
        (Some(g), true) => {
            Error::already_exists("gtin", g.as_str()).with("field", field_path(field, "gtin"))
        }
        _ => Error::already_exists("variant", &v.sku).with("field", field_path(field, "sku")),
    }
}

fn gtin_value(v: &Variant) -> Value {
    Value::Text(v.gtin.as_ref().map(|g| g.as_str().to_owned()))
}

async fn insert_variant(
    conn: &mut Conn,
    v: &Variant,
    position: i64,
    field: &str,
) -> Result<(), Error> {
    // A GTIN already used by another SKU must be reported as such, not as a SKU clash.
    if let Some(g) = &v.gtin {
        let taken = conn
            .query_opt(
                "SELECT sku FROM variants WHERE gtin = $1",
                params![g.as_str()],
            )
            .await?;
        if taken.is_some() {
            return Err(
                Error::already_exists("gtin", g.as_str()).with("field", field_path(field, "gtin"))
            );
        }
    }
    conn.execute(
        "INSERT INTO variants (sku, product_id, position, gtin, title, attributes, status, created_at, updated_at, weight_grams)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        params![&v.sku, &v.product_id, position, gtin_value(v), &v.title, to_json(&v.attributes), v.status.as_str(), v.created_at.to_text(), v.updated_at.to_text(), v.weight_grams],
    )
    .await
    .map_err(|e| variant_conflict(e, field, v))?;
    Ok(())
}

/// Inserts a validated product with its variants and records `relais.product.created`.
pub async fn create_product(conn: &mut Conn, p: &Product, actor: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO products (id, title, description, brand, category, attributes, images, status, version, created_at, updated_at,
                               tax_category)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        params![
            &p.id, &p.title, &p.description, &p.brand, &p.category, to_json(&p.attributes), to_json(&p.images),
            p.status.as_str(), p.version, p.created_at.to_text(), p.updated_at.to_text(), &p.tax_category
        ],
    )
    .await?;
    for (i, v) in p.variants.iter().enumerate() {
        insert_variant(&mut *conn, v, i as i64, &format!("variants[{i}]")).await?;
    }
    events::emit(conn, Event::ProductCreated(p), &p.id, actor).await
}

async fn variants_of(conn: &mut Conn, product_ids: &[String]) -> Result<Vec<Variant>, Error> {
    if product_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {VARIANT_COLUMNS} FROM variants WHERE product_id IN ({}) ORDER BY product_id, position",
        placeholders(1, product_ids.len())
    );
    let ids: Vec<Value> = product_ids.iter().map(Value::from).collect();
    conn.query(&sql, &ids)
        .await?
        .iter()
        .map(variant_from_row)
        .collect()
}

fn attach_variants(products: &mut [Product], variants: Vec<Variant>) {
    let mut by_product: BTreeMap<String, Vec<Variant>> = BTreeMap::new();
    for v in variants {
        by_product.entry(v.product_id.clone()).or_default().push(v);
    }
    for p in products {
        p.variants = by_product.remove(&p.id).unwrap_or_default();
    }
}

/// A product with its variants, read through `conn` (a reader or the writer's transaction).
pub async fn find_product(conn: &mut Conn, id: &str) -> Result<Option<Product>, Error> {
    let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1");
    let Some(row) = conn.query_opt(&sql, params![id]).await? else {
        return Ok(None);
    };
    let mut product = product_from_row(&row)?;
    product.variants = variants_of(conn, std::slice::from_ref(&product.id)).await?;
    Ok(Some(product))
}

pub async fn get_product(db: &Db, id: &str) -> Result<Product, Error> {
    let mut conn = db.read().await?;
    find_product(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("product", id))
}

/// Filters for the product list.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// A category and everything below it (`footwear` matches `footwear/running`).
    pub category: Option<String>,
    pub status: Option<ProductStatus>,
    pub brand: Option<String>,
}

/// Products in id (creation) order.
pub async fn list_products(
    db: &Db,
    filter: &ProductFilter,
    page: &PageRequest,
) -> Result<Page<Product>, Error> {
    let sql = format!(
        "SELECT {PRODUCT_COLUMNS} FROM products
         WHERE id > $1 AND ($2 = '' OR category = $2 OR category LIKE $3)
           AND ($4 = '' OR status = $4) AND ($5 = '' OR brand = $5)
         ORDER BY id LIMIT $6"
    );
    let category = filter.category.clone().unwrap_or_default();
    let mut conn = db.read().await?;
    let found = conn
        .query(
            &sql,
            params![
                page.after.clone().unwrap_or_default(),
                &category,
                format!("{category}/%"),
                filter.status.map(|s| s.as_str()).unwrap_or(""),
                filter.brand.clone().unwrap_or_default(),
                page.fetch_limit()
            ],
        )
        .await?;
    let mut products = found
        .iter()
        .map(product_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<String> = products.iter().map(|p| p.id.clone()).collect();
    let variants = variants_of(&mut conn, &ids).await?;
    attach_variants(&mut products, variants);
    Ok(Page::from_rows(products, page, |p| p.id.clone()))
}

/// Applies a patch if the product is still at `expected_version` (when given).
pub async fn update_product(
    conn: &mut Conn,
    id: &str,
    patch: &ProductPatch,
    expected_version: Option<i64>,
    actor: &str,
) -> Result<Product, Error> {
    let mut product = find_product(&mut *conn, id)
        .await?
        .ok_or_else(|| Error::not_found("product", id))?;
    check_version(product.version, expected_version)?;
    let read_version = product.version;
    patch.apply(&mut product, Timestamp::now())?;
    let updated = conn
        .execute(
            "UPDATE products SET title = $1, description = $2, brand = $3, category = $4, attributes = $5,
                    images = $6, status = $7, version = $8, updated_at = $9, tax_category = $12
             WHERE id = $10 AND version = $11",
            params![
                &product.title, &product.description, &product.brand, &product.category, to_json(&product.attributes),
                to_json(&product.images), product.status.as_str(), product.version, product.updated_at.to_text(), id, read_version,
                &product.tax_category
            ],
        )
        .await?;
    if updated != 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the product changed meanwhile; read it again",
        )
        .with("id", id));
    }
    events::emit(conn, Event::ProductUpdated(&product), id, actor).await?;
    Ok(product)
}

/// `expected_version`, when the caller sent one, must match the stored version.
pub(crate) fn check_version(current: i64, expected: Option<i64>) -> Result<(), Error> {
    match expected {
        Some(v) if v != current => Err(Error::new(
            ErrorCode::Conflict,
            "the version does not match; read the resource again",
        )
        .with("expected_version", v)
        .with("current_version", current)),
        _ => Ok(()),
    }
}

/// Adds a variant to an existing product.
pub async fn add_variant(
    conn: &mut Conn,
    product_id: &str,
    new: &NewVariant,
    actor: &str,
) -> Result<Variant, Error> {
    let product = find_product(&mut *conn, product_id)
        .await?
        .ok_or_else(|| Error::not_found("product", product_id))?;
    if product.variants.len() >= catalog::product::MAX_VARIANTS {
        return Err(Error::validation(
            "sku",
            "the product already has the maximum number of variants",
        ));
    }
    // The request body is the variant itself: its fields have no prefix.
    let variant = new.validate("", product_id, &product.title, Timestamp::now())?;
    insert_variant(&mut *conn, &variant, product.variants.len() as i64, "").await?;
    events::emit(conn, Event::VariantCreated(&variant), &variant.sku, actor).await?;
    Ok(variant)
}

pub async fn find_variant(conn: &mut Conn, sku: &str) -> Result<Option<Variant>, Error> {
    let sql = format!("SELECT {VARIANT_COLUMNS} FROM variants WHERE sku = $1");
    conn.query_opt(&sql, params![sku])
        .await?
        .as_ref()
        .map(variant_from_row)
        .transpose()
}

pub async fn get_variant(db: &Db, sku: &str) -> Result<Variant, Error> {
    let mut conn = db.read().await?;
    find_variant(&mut conn, sku)
        .await?
        .ok_or_else(|| Error::not_found("variant", sku))
}

/// Filters for the variant list.
#[derive(Debug, Clone, Default)]
pub struct VariantFilter {
    pub product_id: Option<String>,
    /// Any GTIN form; matched on its 14-digit form.
    pub gtin: Option<String>,
}

/// Variants in SKU order.
pub async fn list_variants(
    db: &Db,
    filter: &VariantFilter,
    page: &PageRequest,
) -> Result<Page<Variant>, Error> {
    let sql = format!(
        "SELECT {VARIANT_COLUMNS} FROM variants
         WHERE sku > $1 AND ($2 = '' OR product_id = $2) AND ($3 = '' OR gtin = $3)
         ORDER BY sku LIMIT $4"
    );
    let found = db
        .read()
        .await?
        .query(
            &sql,
            params![
                page.after.clone().unwrap_or_default(),
                filter.product_id.clone().unwrap_or_default(),
                filter.gtin.clone().unwrap_or_default(),
                page.fetch_limit()
            ],
        )
        .await?;
    let variants = found
        .iter()
        .map(variant_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(variants, page, |v| v.sku.clone()))
}

pub async fn update_variant(
    conn: &mut Conn,
    sku: &str,
    patch: &VariantPatch,
    actor: &str,
) -> Result<Variant, Error> {
    let mut variant = find_variant(&mut *conn, sku)
        .await?
        .ok_or_else(|| Error::not_found("variant", sku))?;
    patch.apply(&mut variant, Timestamp::now())?;
    if let Some(g) = &variant.gtin {
        let taken = conn
            .query_opt(
                "SELECT sku FROM variants WHERE gtin = $1 AND sku <> $2",
                params![g.as_str(), sku],
            )
            .await?;
        if taken.is_some() {
            return Err(Error::already_exists("gtin", g.as_str()).with("field", "gtin"));
        }
    }
    conn.execute(
        "UPDATE variants SET gtin = $1, title = $2, attributes = $3, status = $4, updated_at = $5, weight_grams = $7 WHERE sku = $6",
        params![gtin_value(&variant), &variant.title, to_json(&variant.attributes), variant.status.as_str(), variant.updated_at.to_text(), sku, variant.weight_grams],
    )
    .await?;
    events::emit(conn, Event::VariantUpdated(&variant), sku, actor).await?;
    Ok(variant)
}

/// A category and how many products it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryCount {
    pub category: String,
    pub products: i64,
}

/// Categories in use, in name order.
pub async fn list_categories(db: &Db, page: &PageRequest) -> Result<Page<CategoryCount>, Error> {
    let found = db
        .read()
        .await?
        .query(
            "SELECT category, COUNT(*) AS n FROM products WHERE category > $1 GROUP BY category ORDER BY category LIMIT $2",
            params![page.after.clone().unwrap_or_default(), page.fetch_limit()],
        )
        .await?;
    let categories = found
        .iter()
        .map(|r| {
            Ok(CategoryCount {
                category: r.text("category")?,
                products: r.int("n")?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Page::from_rows(categories, page, |c| c.category.clone()))
}

/// Whether the catalogue holds any product (the demo refuses a non-empty database).
pub async fn is_empty(db: &Db) -> Result<bool, Error> {
    Ok(db
        .read()
        .await?
        .query_opt("SELECT id FROM products LIMIT 1", &[])
        .await?
        .is_none())
}

/// What pricing looks at of each SKU: its product, category and brand (for promotions),
/// its VAT category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFacts {
    pub product_id: String,
    pub category: String,
    pub brand: Option<String>,
    pub tax_category: String,
    /// Packed for shipping, when known.
    pub weight_grams: Option<i64>,
    /// The product's attributes (a gift card says `stored_value: gift_card`).
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// The [`ItemFacts`] of the SKUs that exist among `skus`.
pub async fn item_facts(
    conn: &mut Conn,
    skus: &[String],
) -> Result<std::collections::BTreeMap<String, ItemFacts>, Error> {
    let mut found = std::collections::BTreeMap::new();
    for chunk in skus.chunks(500) {
        let sql = format!(
            "SELECT v.sku, p.id, p.category, p.brand, p.tax_category, p.attributes, v.weight_grams FROM variants v JOIN products p ON p.id = v.product_id
             WHERE v.sku IN ({})",
            crate::sql::placeholders(1, chunk.len())
        );
        let values: Vec<crate::Value> = chunk
            .iter()
            .map(|s| crate::Value::from(s.as_str()))
            .collect();
        for row in conn.query(&sql, &values).await? {
            found.insert(
                row.text("sku")?,
                ItemFacts {
                    product_id: row.text("id")?,
                    category: row.text("category")?,
                    brand: row.opt_text("brand")?,
                    tax_category: row.text("tax_category")?,
                    weight_grams: row.opt_int("weight_grams")?,
                    attributes: crate::rows::json(&row, "attributes")?,
                },
            );
        }
    }
    Ok(found)
}
