//! Products and their variants (the sellable SKUs), and the rules that validate them.
//!
//! A product groups variants that differ by attributes such as size or colour. Input arrives
//! as [`NewProduct`] / [`ProductPatch`] with raw strings; the rules here normalise and check
//! every field and return the values that storage persists, or a validation error naming the
//! offending field by its JSON path.

use std::collections::{BTreeMap, HashSet};

use kernel::error::field_path;
use kernel::{Error, Timestamp};
use serde::{Deserialize, Serialize};

use crate::gtin::Gtin;
use kernel::text::{bounded, code, optional};

pub const MAX_VARIANTS: usize = 200;
pub const MAX_ATTRIBUTES: usize = 50;
pub const MAX_IMAGES: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    /// On sale on every channel.
    Active,
    /// Kept for history (orders, returns) but no longer sold.
    Archived,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Active => "active",
            ProductStatus::Archived => "archived",
        }
    }

    pub fn parse(text: &str) -> Option<ProductStatus> {
        match text {
            "active" => Some(ProductStatus::Active),
            "archived" => Some(ProductStatus::Archived),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Image {
    pub url: String,
    pub alt: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVariant {
    pub sku: String,
    pub gtin: Option<String>,
    pub title: Option<String>,
    pub attributes: BTreeMap<String, String>,
    /// Packed for shipping, in grams (weight-band shipping rates).
    pub weight_grams: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub title: String,
    pub description: Option<String>,
    pub brand: Option<String>,
    pub category: String,
    /// Its VAT category (`standard` when absent).
    pub tax_category: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub images: Vec<Image>,
    pub variants: Vec<NewVariant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Variant {
    pub sku: String,
    pub product_id: String,
    pub gtin: Option<Gtin>,
    pub title: String,
    pub attributes: BTreeMap<String, String>,
    /// Packed for shipping, in grams (weight-band shipping rates).
    pub weight_grams: Option<i64>,
    pub status: ProductStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Product {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub brand: Option<String>,
    pub category: String,
    /// Its VAT category: the rate is the tax table's of the country an order is taxed in.
    pub tax_category: String,
    pub attributes: BTreeMap<String, String>,
    pub images: Vec<Image>,
    pub status: ProductStatus,
    pub variants: Vec<Variant>,
    /// Incremented by every update; callers may send it back for optimistic concurrency.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Fields to change on a product; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductPatch {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub brand: Option<Option<String>>,
    pub category: Option<String>,
    pub tax_category: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
    pub images: Option<Vec<Image>>,
    pub status: Option<ProductStatus>,
}

/// Fields to change on a variant; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VariantPatch {
    pub gtin: Option<Option<String>>,
    pub weight_grams: Option<Option<i64>>,
    pub title: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
    pub status: Option<ProductStatus>,
}

/// SKU: 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub fn validate_sku(field: &str, sku: &str) -> Result<String, Error> {
    code(
        field,
        sku,
        1,
        64,
        |c| c.is_ascii_alphanumeric() || "._-".contains(c),
        "letters, digits, `.`, `_` or `-`",
    )
}

/// Category: a lowercase slug path such as `footwear/running`, at most 5 levels.
/// The VAT category of a product that names none.
pub const STANDARD_TAX_CATEGORY: &str = "standard";

/// A VAT category: 1 to 40 of `a-z 0-9 _` (`standard`, `reduced`, `super_reduced`…); the
/// rate is the tax table's of the country the order is taxed in.
pub fn validate_tax_category(field: &str, category: &str) -> Result<String, Error> {
    code(
        field,
        category,
        1,
        40,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
        "a-z, 0-9 or `_`",
    )
}

pub fn validate_category(field: &str, category: &str) -> Result<String, Error> {
    let segments: Vec<&str> = category.split('/').collect();
    let segment_ok = |s: &&str| {
        !s.is_empty()
            && s.len() <= 40
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if segments.len() > 5 || !segments.iter().all(segment_ok) {
        return Err(Error::validation(
            field,
            "category must be a slug path like `footwear/running` (lowercase, digits, `-`, at most 5 levels)",
        ));
    }
    Ok(category.to_owned())
}

fn validate_gtin(field: &str, gtin: Option<&str>) -> Result<Option<Gtin>, Error> {
    gtin.map(|g| {
        Gtin::parse(g)
            .map_err(|e| Error::validation(field, format!("invalid GTIN: {e}")).with("value", g))
    })
    .transpose()
}

fn validate_attributes(
    field: &str,
    attributes: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Error> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(Error::validation(
            field,
            format!("at most {MAX_ATTRIBUTES} attributes"),
        ));
    }
    let mut clean = BTreeMap::new();
    for (key, value) in attributes {
        let key_field = format!("{field}.{key}");
        code(
            &key_field,
            key,
            1,
            40,
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
            "lowercase, digits or `_`",
        )?;
        clean.insert(key.clone(), bounded(&key_field, value, 1, 200)?);
    }
    Ok(clean)
}

fn validate_images(field: &str, images: &[Image]) -> Result<Vec<Image>, Error> {
    if images.len() > MAX_IMAGES {
        return Err(Error::validation(
            field,
            format!("at most {MAX_IMAGES} images"),
        ));
    }
    images
        .iter()
        .enumerate()
        .map(|(i, img)| {
            let url_field = format!("{field}[{i}].url");
            let url = bounded(&url_field, &img.url, 1, 2000)?;
            if !(url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'))
            {
                return Err(Error::validation(
                    &url_field,
                    "image url must be absolute (https://…) or start with /",
                ));
            }
            Ok(Image {
                url,
                alt: bounded(&format!("{field}[{i}].alt"), &img.alt, 0, 300)?,
            })
        })
        .collect()
}

/// The default variant title: the product title and the variant's attribute values.
fn default_variant_title(product_title: &str, attributes: &BTreeMap<String, String>) -> String {
    if attributes.is_empty() {
        return product_title.to_owned();
    }
    let values: Vec<&str> = attributes.values().map(String::as_str).collect();
    format!("{product_title} — {}", values.join(" / "))
}

/// A shipping weight: 1 g to 1 t.
fn validate_weight(field: &str, grams: Option<i64>) -> Result<Option<i64>, Error> {
    match grams {
        Some(g) if !(1..=1_000_000).contains(&g) => {
            Err(Error::validation(field, "a weight in grams, 1 to 1000000"))
        }
        _ => Ok(grams),
    }
}

impl NewVariant {
    /// Validates one variant of `product`; `field` is its JSON path (`variants[2]`).
    pub fn validate(
        &self,
        field: &str,
        product_id: &str,
        product_title: &str,
        now: Timestamp,
    ) -> Result<Variant, Error> {
        let attributes = validate_attributes(&field_path(field, "attributes"), &self.attributes)?;
        let title = match &self.title {
            Some(t) => bounded(&field_path(field, "title"), t, 1, 300)?,
            None => default_variant_title(product_title, &attributes),
        };
        Ok(Variant {
            sku: validate_sku(&field_path(field, "sku"), &self.sku)?,
            product_id: product_id.to_owned(),
            gtin: validate_gtin(&field_path(field, "gtin"), self.gtin.as_deref())?,
            title,
            attributes,
            weight_grams: validate_weight(&field_path(field, "weight_grams"), self.weight_grams)?,
            status: ProductStatus::Active,
            created_at: now,
            updated_at: now,
        })
    }
}

impl NewProduct {
    /// Validates the whole product, including that SKUs and GTINs are unique within it.
    pub fn validate(&self, id: String, now: Timestamp) -> Result<Product, Error> {
        let title = bounded("title", &self.title, 1, 300)?;
        if self.variants.is_empty() || self.variants.len() > MAX_VARIANTS {
            return Err(Error::validation(
                "variants",
                format!("a product has 1 to {MAX_VARIANTS} variants"),
            ));
        }
        let variants = self
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| v.validate(&format!("variants[{i}]"), &id, &title, now))
            .collect::<Result<Vec<_>, _>>()?;
        check_unique_within(&variants)?;
        Ok(Product {
            id,
            description: optional("description", self.description.as_deref(), 10_000)?,
            brand: optional("brand", self.brand.as_deref(), 100)?,
            category: validate_category("category", &self.category)?,
            tax_category: validate_tax_category(
                "tax_category",
                self.tax_category
                    .as_deref()
                    .unwrap_or(STANDARD_TAX_CATEGORY),
            )?,
            attributes: validate_attributes("attributes", &self.attributes)?,
            images: validate_images("images", &self.images)?,
            title,
            status: ProductStatus::Active,
            variants,
            version: 1,
            created_at: now,
            updated_at: now,
        })
    }
}

fn check_unique_within(variants: &[Variant]) -> Result<(), Error> {
    let mut skus = HashSet::new();
    let mut gtins = HashSet::new();
    for (i, v) in variants.iter().enumerate() {
        if !skus.insert(v.sku.as_str()) {
            return Err(Error::validation(
                &format!("variants[{i}].sku"),
                format!("SKU `{}` appears twice", v.sku),
            ));
        }
        if let Some(g) = &v.gtin
            && !gtins.insert(g.as_str())
        {
            return Err(Error::validation(
                &format!("variants[{i}].gtin"),
                format!("GTIN `{}` appears twice", g.as_str()),
            ));
        }
    }
    Ok(())
}

impl ProductPatch {
    pub fn is_empty(&self) -> bool {
        *self == ProductPatch::default()
    }

    /// Applies the patch to `product`, validating every changed field.
    pub fn apply(&self, product: &mut Product, now: Timestamp) -> Result<(), Error> {
        if self.is_empty() {
            return Err(Error::validation("body", "the patch changes nothing"));
        }
        if let Some(t) = &self.title {
            product.title = bounded("title", t, 1, 300)?;
        }
        if let Some(d) = &self.description {
            product.description = optional("description", d.as_deref(), 10_000)?;
        }
        if let Some(b) = &self.brand {
            product.brand = optional("brand", b.as_deref(), 100)?;
        }
        if let Some(c) = &self.category {
            product.category = validate_category("category", c)?;
        }
        if let Some(c) = &self.tax_category {
            product.tax_category = validate_tax_category("tax_category", c)?;
        }
        if let Some(a) = &self.attributes {
            product.attributes = validate_attributes("attributes", a)?;
        }
        if let Some(i) = &self.images {
            product.images = validate_images("images", i)?;
        }
        if let Some(s) = self.status {
            product.status = s;
        }
        product.version += 1;
        product.updated_at = now;
        Ok(())
    }
}

impl VariantPatch {
    pub fn is_empty(&self) -> bool {
        *self == VariantPatch::default()
    }

    pub fn apply(&self, variant: &mut Variant, now: Timestamp) -> Result<(), Error> {
        if self.is_empty() {
            return Err(Error::validation("body", "the patch changes nothing"));
        }
        if let Some(g) = &self.gtin {
            variant.gtin = validate_gtin("gtin", g.as_deref())?;
        }
        if let Some(t) = &self.title {
            variant.title = bounded("title", t, 1, 300)?;
        }
        if let Some(a) = &self.attributes {
            variant.attributes = validate_attributes("attributes", a)?;
        }
        if let Some(w) = self.weight_grams {
            variant.weight_grams = validate_weight("weight_grams", w)?;
        }
        if let Some(s) = self.status {
            variant.status = s;
        }
        variant.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::ErrorCode;

    fn shoe() -> NewProduct {
        NewProduct {
            title: "  Trail runner TR-500 ".into(),
            description: Some("Grippy".into()),
            brand: Some("Kalenji".into()),
            category: "footwear/running".into(),
            tax_category: None,
            attributes: BTreeMap::from([("gender".into(), "unisex".into())]),
            images: vec![Image {
                url: "https://img.example/tr500.jpg".into(),
                alt: "side".into(),
            }],
            variants: vec![
                NewVariant {
                    sku: "TR500-42".into(),
                    gtin: Some("4006381333931".into()),
                    title: None,
                    attributes: BTreeMap::from([("size".into(), "42".into())]),
                    weight_grams: Some(320),
                },
                NewVariant {
                    sku: "TR500-43".into(),
                    gtin: None,
                    title: None,
                    attributes: BTreeMap::from([("size".into(), "43".into())]),
                    weight_grams: None,
                },
            ],
        }
    }

    fn field_of(e: &Error) -> &str {
        e.details["field"].as_str().unwrap()
    }

    #[test]
    fn validates_and_normalises() {
        let p = shoe().validate("prd_1".into(), Timestamp::now()).unwrap();
        assert_eq!(p.title, "Trail runner TR-500");
        assert_eq!(
            p.variants[0].gtin.as_ref().unwrap().as_str(),
            "04006381333931"
        );
        assert_eq!(p.variants[1].title, "Trail runner TR-500 — 43");
        assert_eq!(p.variants[0].product_id, "prd_1");
    }

    #[test]
    fn rejections_name_the_field() {
        let cases: Vec<(Box<dyn Fn(&mut NewProduct)>, &str)> = vec![
            (Box::new(|p| p.title = " ".into()), "title"),
            (Box::new(|p| p.category = "Footwear".into()), "category"),
            (Box::new(|p| p.variants.clear()), "variants"),
            (
                Box::new(|p| p.variants[1].sku = "bad sku".into()),
                "variants[1].sku",
            ),
            (
                Box::new(|p| p.variants[0].gtin = Some("4006381333932".into())),
                "variants[0].gtin",
            ),
            (
                Box::new(|p| p.variants[1].sku = "TR500-42".into()),
                "variants[1].sku",
            ),
            (
                Box::new(|p| p.images[0].url = "ftp://x".into()),
                "images[0].url",
            ),
            (
                Box::new(|p| {
                    p.attributes.insert("Bad Key".into(), "x".into());
                }),
                "attributes.Bad Key",
            ),
        ];
        for (change, field) in cases {
            let mut p = shoe();
            change(&mut p);
            let e = p.validate("prd_1".into(), Timestamp::now()).unwrap_err();
            assert_eq!(e.code, ErrorCode::ValidationFailed);
            assert_eq!(field_of(&e), field);
        }
    }

    #[test]
    fn patch_bumps_version_and_rejects_empty() {
        let mut p = shoe().validate("prd_1".into(), Timestamp::now()).unwrap();
        assert!(
            ProductPatch::default()
                .apply(&mut p, Timestamp::now())
                .is_err()
        );
        let patch = ProductPatch {
            title: Some("New".into()),
            brand: Some(None),
            ..Default::default()
        };
        patch.apply(&mut p, Timestamp::now()).unwrap();
        assert_eq!(
            (p.title.as_str(), p.brand.as_deref(), p.version),
            ("New", None, 2)
        );
    }
}
