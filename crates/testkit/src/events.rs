//! Every event a test makes is checked against the event catalogue when its database is
//! dropped: a known type, the envelope's attributes, its `dataschema`, and `data` valid
//! against the type's JSON Schema. So the whole suite checks every event it emits.

use std::collections::HashMap;
use std::sync::OnceLock;

use kernel::{Error, PageRequest};
use outbox::CloudEvent;
use store::Db;

/// One compiled validator per event type, shared by every test of the binary.
fn validators() -> &'static HashMap<&'static str, jsonschema::Validator> {
    static VALIDATORS: OnceLock<HashMap<&'static str, jsonschema::Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        outbox::TYPES
            .iter()
            .map(|t| {
                let v = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&t.schema())
                    .unwrap_or_else(|e| panic!("the schema of {} does not compile: {e}", t.kind));
                (t.kind, v)
            })
            .collect()
    })
}

/// What is wrong with one envelope (nothing when it matches the catalogue).
pub fn problems_of(e: &CloudEvent) -> Vec<String> {
    let Some(validator) = validators().get(e.kind.as_str()) else {
        return vec![format!("{}: not a type of the catalogue", e.kind)];
    };
    let mut out: Vec<String> = validator
        .iter_errors(&e.data)
        .map(|err| format!("{} {}: {err} at {}", e.kind, e.id, err.instance_path()))
        .collect();
    if e.dataschema.as_deref() != Some(outbox::catalogue::dataschema(&e.kind).as_str()) {
        out.push(format!(
            "{} {}: dataschema is {:?}",
            e.kind, e.id, e.dataschema
        ));
    }
    if e.specversion != "1.0" || e.source != outbox::SOURCE || e.subject.is_empty() {
        out.push(format!(
            "{} {}: envelope attributes are wrong",
            e.kind, e.id
        ));
    }
    out
}

/// The problems of every event in `db`'s outbox, and how many events were read.
pub async fn outbox_problems(db: &Db) -> Result<(usize, Vec<String>), Error> {
    let (mut read, mut problems, mut after) = (0, Vec::new(), None);
    loop {
        let page = PageRequest { limit: 500, after };
        let found = store::events::list(db, None, None, &page).await?;
        read += found.data.len();
        for stored in &found.data {
            problems.extend(problems_of(&stored.event));
        }
        match found.data.last() {
            Some(last) if found.next_cursor.is_some() => after = Some(last.seq.to_string()),
            _ => return Ok((read, problems)),
        }
    }
}

/// Opens the database at `url` anew and panics, naming them, if any of its events does not
/// match the catalogue. Runs on its own thread and runtime: it is called from `Drop`.
pub fn assert_outbox_matches_catalogue(url: &str) {
    let url = url.to_owned();
    let outcome = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime to check events");
        rt.block_on(async {
            let db = Db::connect(&url, store::DbOptions::default()).await?;
            outbox_problems(&db).await
        })
    })
    .join()
    .expect("the event check panicked");
    match outcome {
        Ok((_, problems)) if problems.is_empty() => {}
        Ok((read, problems)) => panic!(
            "{} of {read} events do not match the catalogue:\n{}",
            problems.len(),
            problems.join("\n")
        ),
        // A database the test broke on purpose, or already gone, has nothing to check.
        Err(e) => eprintln!("note: events not checked: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use customers::segment::{Rule, Segment};
    use kernel::Timestamp;

    use super::*;

    fn segment() -> Segment {
        Segment {
            code: "lyon-regulars".into(),
            name: "Lyon regulars".into(),
            rule: Rule::HomeStore(vec!["LYS-BELLECOUR".into()]),
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        }
    }

    #[tokio::test]
    async fn emitted_events_are_read_and_match() {
        let t = crate::sqlite().await;
        t.db.write(|c| {
            Box::pin(async move { store::segments::create(c, &segment(), "key_1").await })
        })
        .await
        .unwrap();
        let (read, problems) = outbox_problems(&t.db).await.unwrap();
        assert_eq!((read, problems), (1, Vec::<String>::new()));
    }

    #[test]
    fn a_wrong_payload_type_or_schema_is_named() {
        let s = segment();
        let good =
            CloudEvent::of(&outbox::Event::SegmentCreated(&s), "lyon-regulars", "k").unwrap();
        assert!(problems_of(&good).is_empty());
        let mut bad = good.clone();
        bad.data["rule"] = serde_json::json!({"home_store": "LYS-BELLECOUR"});
        assert_eq!(problems_of(&bad).len(), 1, "{:?}", problems_of(&bad));
        let mut unknown = good.clone();
        unknown.kind = "relais.segment.renamed".into();
        assert!(problems_of(&unknown)[0].contains("not a type of the catalogue"));
        let mut old = good;
        old.dataschema = None;
        assert!(problems_of(&old)[0].contains("dataschema"));
    }
}
