//! `relais import stock FILE.csv`: stock counts (or receipts) from a spreadsheet or an ERP.
//!
//! The file has a header row with `sku`, `location` and `quantity` columns (any order, more
//! columns ignored; `reason` is used when present). By default each row is a **count**: the
//! location's on-hand quantity becomes the one given, and the ledger records the difference
//! as a `count` movement; `--kind receipt` adds the quantity instead.
//!
//! Idempotent: each row's movement carries a key made of the **batch** (`--batch`, else the
//! file's name) and the row's own content (SKU, location, quantity, reason; the n-th of
//! identical rows), or of the file's `key` column when it has one. Importing the file again
//! — also after fixing a rejected row, which changes that row's key only — records nothing
//! twice, even if stock has moved since (a re-run must not reset today's sales to last
//! night's count). Each day's file needs its own batch: a new name, or `--batch`.
//! Rejected rows (unknown SKU or location, a quantity that is not a whole number ≥ 0, a
//! count below what is held) write nothing; they are listed in `FILE.rejected.csv` with the
//! reason, so they can be fixed and the file imported again; the command then exits 1.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use inventory::MovementKind;
use kernel::{Error, ErrorCode};
use sha2::{Digest, Sha256};
use store::Db;
use store::stock::NewMovement;

/// Rows written at once: the group-commit writer batches them into few transactions.
const IN_FLIGHT: usize = 256;

/// One data row of the file, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    pub sku: String,
    pub location: String,
    pub quantity: String,
    pub reason: Option<String>,
    /// What makes the row the same row in a later run of the batch (see the module).
    pub key: String,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Rows recorded now.
    pub recorded: u64,
    /// Rows recorded by an earlier run of the same file.
    pub already: u64,
    /// Rows refused, with why.
    pub rejected: Vec<(Row, String)>,
}

/// Reads the rows of a batch (`None`: the file's name); fails only if the file cannot be
/// read or lacks a needed column. Answers the rows and the batch.
pub fn read_rows(path: &Path, batch: Option<&str>) -> anyhow::Result<(Vec<Row>, String)> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    let batch = match batch {
        Some(b) => b.to_owned(),
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
    let headers = reader.headers().context("read the header row")?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .with_context(|| format!("the header row has no `{name}` column"))
    };
    let (sku, location, quantity) = (column("sku")?, column("location")?, column("quantity")?);
    let reason = column("reason").ok();
    let own_key = column("key").ok();
    let mut rows = Vec::new();
    let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for record in reader.records() {
        let record = record.context("read a row")?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let field = |i: usize| record.get(i).unwrap_or("").to_owned();
        let mut row = Row {
            line,
            sku: field(sku),
            location: field(location),
            quantity: field(quantity),
            reason: reason.map(field).filter(|r| !r.is_empty()),
            key: String::new(),
        };
        row.key = match own_key.map(field).filter(|k| !k.is_empty()) {
            Some(k) => format!("key:{k}"),
            None => {
                let content = content_key(&batch, &row);
                let n = seen.entry(content.clone()).or_default();
                *n += 1;
                format!("{content}.{n}")
            }
        };
        rows.push(row);
    }
    Ok((rows, batch))
}

/// The batch and the row's content, hashed: editing another row leaves it as it is.
fn content_key(batch: &str, row: &Row) -> String {
    let mut h = Sha256::new();
    for part in [batch, &row.sku, &row.location, &row.quantity] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(row.reason.as_deref().unwrap_or("").as_bytes());
    kernel::hex::encode(&h.finalize()[..12])
}

/// Checks what needs no database: the quantity.
fn parse_quantity(row: &Row) -> Result<i64, String> {
    match row.quantity.parse::<i64>() {
        Ok(q) if q >= 0 => Ok(q),
        Ok(_) => Err("negative quantity".into()),
        Err(_) => Err(format!("quantity `{}` is not a whole number", row.quantity)),
    }
}

/// The SKUs and locations the rows name that do not exist.
async fn unknown_references(
    db: &Db,
    rows: &[(Row, i64)],
) -> Result<(HashSet<String>, HashSet<String>), Error> {
    let locations: HashSet<String> = store::locations::all_locations(db)
        .await?
        .into_iter()
        .map(|l| l.code)
        .collect();
    let unknown_locations = rows
        .iter()
        .map(|(r, _)| &r.location)
        .filter(|l| !locations.contains(*l))
        .cloned()
        .collect();
    let mut unknown_skus = HashSet::new();
    let mut known = HashSet::new();
    for (row, _) in rows {
        if known.contains(&row.sku) || unknown_skus.contains(&row.sku) {
            continue;
        }
        match store::catalog::get_variant(db, &row.sku).await {
            Ok(_) => known.insert(row.sku.clone()),
            Err(e) if e.code == ErrorCode::NotFound => unknown_skus.insert(row.sku.clone()),
            Err(e) => return Err(e),
        };
    }
    Ok((unknown_skus, unknown_locations))
}

/// Imports the rows; `on_row` is called after each (for a progress bar).
pub async fn import_rows(
    db: &Db,
    rows: Vec<Row>,
    batch: &str,
    kind: MovementKind,
    on_row: impl Fn(),
) -> Report {
    let mut report = Report::default();
    let mut pending = Vec::new();
    for row in rows {
        match parse_quantity(&row) {
            Ok(q) if kind != MovementKind::Count && q == 0 => {
                report.rejected.push((row, "a receipt of 0 units".into()));
                on_row();
            }
            Ok(q) => pending.push((row, q)),
            Err(reason) => {
                report.rejected.push((row, reason));
                on_row();
            }
        }
    }
    let (unknown_skus, unknown_locations) = match unknown_references(db, &pending).await {
        Ok(unknown) => unknown,
        Err(e) => {
            for (row, _) in pending.drain(..) {
                report
                    .rejected
                    .push((row, format!("not checked: {}", e.message)));
            }
            Default::default()
        }
    };
    pending.retain(|(row, _)| {
        let reason = if unknown_skus.contains(&row.sku) {
            format!("unknown SKU `{}`", row.sku)
        } else if unknown_locations.contains(&row.location) {
            format!("unknown location `{}`", row.location)
        } else {
            return true;
        };
        report.rejected.push((row.clone(), reason));
        on_row();
        false
    });
    let outcomes = futures::stream::iter(pending.into_iter().map(|(row, quantity)| {
        let movement = NewMovement {
            sku: row.sku.clone(),
            location: row.location.clone(),
            kind,
            quantity,
            reason: row
                .reason
                .clone()
                .unwrap_or_else(|| format!("stock import, line {}", row.line)),
            reference: Some(format!("import:{batch}")),
            client_key: Some(format!("import:{}:{}", kind.as_str(), row.key)),
        };
        let db = db.clone();
        async move {
            // Recorded by an earlier run: the ledger returns that movement.
            let outcome = app::stock::import_movement(&db, movement).await;
            (row, outcome)
        }
    }))
    .buffer_unordered(IN_FLIGHT);
    futures::pin_mut!(outcomes);
    while let Some((row, outcome)) = outcomes.next().await {
        match outcome {
            Ok(true) => report.already += 1,
            Ok(false) => report.recorded += 1,
            Err(e) => report.rejected.push((row, e.message)),
        }
        on_row();
    }
    report.rejected.sort_by_key(|(row, _)| row.line);
    report
}

/// Where the rejected rows of `path` are written.
pub fn rejected_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_stem()
        .map(|s| s.to_os_string())
        .unwrap_or_default();
    name.push(".rejected.csv");
    path.with_file_name(name)
}

fn write_rejected(path: &Path, rejected: &[(Row, String)]) -> anyhow::Result<()> {
    let mut out =
        csv::Writer::from_path(path).with_context(|| format!("write {}", path.display()))?;
    out.write_record(["line", "sku", "location", "quantity", "reason"])?;
    for (row, reason) in rejected {
        out.write_record([
            row.line.to_string().as_str(),
            &row.sku,
            &row.location,
            &row.quantity,
            reason,
        ])?;
    }
    out.flush()?;
    Ok(())
}

/// The command: import with a progress bar, print the outcome, write the rejected rows.
pub async fn run(
    db: &Db,
    path: &Path,
    batch: Option<&str>,
    kind: MovementKind,
) -> anyhow::Result<Report> {
    let (rows, batch) = read_rows(path, batch)?;
    let bar = ProgressBar::new(rows.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = import_rows(db, rows, &batch, kind, || bar.inc(1)).await;
    bar.finish_and_clear();
    println!(
        "{}: {} rows recorded, {} already imported by an earlier run, {} rejected",
        path.display(),
        report.recorded,
        report.already,
        report.rejected.len()
    );
    let rejected = rejected_path(path);
    if report.rejected.is_empty() {
        let _ = std::fs::remove_file(&rejected);
    } else {
        write_rejected(&rejected, &report.rejected)?;
        println!(
            "rejected rows (nothing was written for them): {}",
            rejected.display()
        );
    }
    Ok(report)
}
