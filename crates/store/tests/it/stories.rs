//! One story per concern: the write path, idempotency, catalogue and prices.

use std::collections::BTreeMap;

use catalog::{NewProduct, NewVariant};
use kernel::{Currency, ErrorCode, PageRequest, Timestamp};
use pricing::{BasePrice, PriceOverride};
use store::{IdempotencyKey, StoredResponse};

fn product(prefix: &str, sizes: &[&str]) -> NewProduct {
    NewProduct {
        title: format!("{prefix} jacket"),
        description: None,
        brand: Some("Quechua".into()),
        category: "outdoor/jackets".into(),
        tax_category: None,
        attributes: BTreeMap::new(),
        images: vec![],
        variants: sizes
            .iter()
            .map(|s| NewVariant {
                sku: format!("{prefix}-{s}"),
                gtin: None,
                title: None,
                attributes: BTreeMap::from([("size".into(), s.to_string())]),
                weight_grams: None,
            })
            .collect(),
    }
}

async fn create(db: &store::Db, p: NewProduct) -> Result<catalog::Product, kernel::Error> {
    let p = p.validate(kernel::id::new_id("prd"), Timestamp::now())?;
    db.write(move |c| {
        Box::pin(async move {
            store::catalog::create_product(c, &p, "test")
                .await
                .map(|_| p)
        })
    })
    .await
}

#[tokio::test]
async fn a_failing_command_does_not_spoil_its_batch() {
    for t in testkit::every_backend().await {
        let db = t.db.clone();
        // Many commands at once share batches; every third one collides on its SKU.
        let mut tasks = Vec::new();
        for i in 0..60 {
            let db = db.clone();
            let sku = if i % 3 == 0 {
                "DUP".to_string()
            } else {
                format!("P{i}")
            };
            tasks.push(tokio::spawn(async move {
                create(&db, product(&sku, &["M"])).await
            }));
        }
        let mut ok = 0;
        let mut dup = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert_eq!(e.code, ErrorCode::AlreadyExists, "{e}");
                    dup += 1;
                }
            }
        }
        assert_eq!((ok, dup), (41, 19), "{:?}", t.backend());
        let page = store::catalog::list_products(
            &db,
            &Default::default(),
            &PageRequest::parse(Some(500), None).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(page.data.len(), 41);
        // One event per committed product, none for the rolled-back ones.
        assert_eq!(store::events::count(&db).await.unwrap(), 41);
    }
}

/// Creates a product as a command that goes together with others of its kind.
async fn create_together(db: store::Db, sku: String) -> Result<(), kernel::Error> {
    let p = product(&sku, &["M"]).validate(kernel::id::new_id("prd"), Timestamp::now())?;
    db.write_together(move |c| {
        let p = p.clone();
        Box::pin(async move { store::catalog::create_product(c, &p, "test").await })
    })
    .await
    .map(|_| ())
}

/// Holds the writer with one command until the returned sender is dropped, so what is
/// submitted meanwhile waits at once.
async fn hold_writer(
    db: &store::Db,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (open, gate) = tokio::sync::oneshot::channel::<()>();
    let db = db.clone();
    let held = tokio::spawn(async move {
        db.write(move |_c| {
            Box::pin(async move {
                let _ = gate.await;
                Ok(())
            })
        })
        .await
        .unwrap()
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    (open, held)
}

#[tokio::test]
async fn commands_that_go_together_share_a_commit_and_fail_alone() {
    for t in testkit::every_backend().await {
        let db = t.db.clone();
        // Sixteen waiting at once: two transactions of eight, two commits.
        let (open, held) = hold_writer(&db).await;
        let before = db.commit_count();
        let tasks: Vec<_> = (0..16)
            .map(|i| tokio::spawn(create_together(db.clone(), format!("T{i}"))))
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        drop(open);
        held.await.unwrap();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(db.commit_count() - before, 3, "{:?}", t.backend());
        // A collision rolls its transaction back; each command then runs alone, so only the
        // colliding ones fail, and nothing of theirs is written.
        let (open, held) = hold_writer(&db).await;
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let sku = if i % 4 == 0 {
                    "DUP".to_owned()
                } else {
                    format!("U{i}")
                };
                tokio::spawn(create_together(db.clone(), sku))
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        drop(open);
        held.await.unwrap();
        let mut failed = 0;
        for task in tasks {
            if let Err(e) = task.await.unwrap() {
                assert_eq!(e.code, ErrorCode::AlreadyExists, "{e}");
                failed += 1;
            }
        }
        assert_eq!(failed, 3, "{:?}", t.backend());
        let page = PageRequest::parse(Some(500), None).unwrap();
        let products = store::catalog::list_products(&db, &Default::default(), &page)
            .await
            .unwrap();
        assert_eq!(products.data.len(), 16 + 13);
        assert_eq!(store::events::count(&db).await.unwrap(), 16 + 13);
    }
}

#[tokio::test]
async fn idempotent_writes_happen_once() {
    for t in testkit::every_backend().await {
        let db = t.db.clone();
        let key = |hash: &str| {
            Some(IdempotencyKey {
                scope: "key_1".into(),
                key: "abc".into(),
                request_hash: hash.into(),
            })
        };
        let run = |hash: &'static str, sku: &'static str| {
            let db = db.clone();
            async move {
                let p = product(sku, &["S"])
                    .validate(kernel::id::new_id("prd"), Timestamp::now())
                    .unwrap();
                db.write_once(
                    key(hash),
                    move |c| {
                        Box::pin(async move {
                            store::catalog::create_product(c, &p, "t")
                                .await
                                .map(|_| p.id)
                        })
                    },
                    |id| StoredResponse {
                        status: 201,
                        body: id,
                        replayed: false,
                    },
                )
                .await
            }
        };
        let first = run("h1", "A").await.unwrap();
        let again = run("h1", "B").await.unwrap();
        assert!(!first.replayed && again.replayed);
        assert_eq!(first.body, again.body);
        let reused = run("h2", "C").await.unwrap_err();
        assert_eq!(reused.code, ErrorCode::IdempotencyKeyReused);
        assert_eq!(store::events::count(&db).await.unwrap(), 1);
    }
}

#[tokio::test]
async fn catalogue_and_prices_story() {
    for t in testkit::every_backend().await {
        let db = t.db.clone();
        let p = create(&db, product("TR", &["40", "41"])).await.unwrap();
        let got = store::catalog::get_product(&db, &p.id).await.unwrap();
        assert_eq!(got, p);

        let base = BasePrice {
            sku: "TR-40".into(),
            currency: Currency::EUR,
            amount_minor: 5999,
            updated_at: Timestamp::now(),
        };
        let b = base.clone();
        db.write(move |c| Box::pin(async move { store::prices::set_base_price(c, &b, "t").await }))
            .await
            .unwrap();
        let unknown = BasePrice {
            sku: "NOPE".into(),
            ..base.clone()
        };
        let e = db
            .write(move |c| {
                Box::pin(async move { store::prices::set_base_price(c, &unknown, "t").await })
            })
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound);

        let web = catalog::NewChannel {
            code: "web".into(),
            kind: catalog::ChannelKind::Web,
            name: "Web".into(),
            location_code: None,
        }
        .validate(Timestamp::now())
        .unwrap();
        let app = catalog::Channel {
            code: "app".into(),
            kind: catalog::ChannelKind::App,
            ..web.clone()
        };
        db.write(move |c| {
            Box::pin(async move {
                store::channels::create_channel(&mut *c, &web, "t").await?;
                store::channels::create_channel(c, &app, "t").await
            })
        })
        .await
        .unwrap();
        let o = PriceOverride {
            sku: "TR-40".into(),
            currency: Currency::EUR,
            channel: "web".into(),
            amount_minor: 4999,
            reason: "Web exclusive".into(),
            starts_at: None,
            ends_at: None,
            updated_at: Timestamp::now(),
        };
        db.write(move |c| Box::pin(async move { store::prices::set_override(c, &o, "t").await }))
            .await
            .unwrap();
        let all = store::prices::prices_on_all_channels(
            &db,
            "TR-40",
            Currency::EUR,
            &PageRequest::parse(None, None).unwrap(),
        )
        .await
        .unwrap()
        .data;
        let by: BTreeMap<_, _> = all.iter().map(|p| (p.channel.as_str(), p)).collect();
        assert_eq!(by["web"].amount_minor, 4999);
        assert_eq!(by["web"].override_reason.as_deref(), Some("Web exclusive"));
        assert_eq!(by["app"].amount_minor, 5999);
        assert!(by["app"].override_reason.is_none());
        let report = store::prices::parity_report(&db, &PageRequest::parse(None, None).unwrap())
            .await
            .unwrap();
        assert_eq!(report.data.len(), 1);
        assert_eq!(report.data[0].base_amount_minor, 5999);
    }
}

#[tokio::test]
async fn expired_idempotency_keys_are_forgotten() {
    for t in testkit::every_backend().await {
        let db = t.db.clone();
        let key = Some(IdempotencyKey {
            scope: "key_1".into(),
            key: "old".into(),
            request_hash: "h1".into(),
        });
        let respond = |n: i64| StoredResponse {
            status: 200,
            body: n.to_string(),
            replayed: false,
        };
        db.write_once(key.clone(), |_c| Box::pin(async { Ok(1i64) }), respond)
            .await
            .unwrap();
        // Nothing is older than an hour ago: the key stays.
        let hour_ago = Timestamp::from_unix_ms(Timestamp::now().unix_ms() - 3_600_000);
        assert_eq!(db.purge_idempotency_keys(hour_ago).await.unwrap(), 0);
        let later = Timestamp::from_unix_ms(Timestamp::now().unix_ms() + 1000);
        assert_eq!(db.purge_idempotency_keys(later).await.unwrap(), 1);
        // The key is free again: a new request with it runs.
        let fresh = db
            .write_once(key, |_c| Box::pin(async { Ok(2i64) }), respond)
            .await
            .unwrap();
        assert_eq!((fresh.body.as_str(), fresh.replayed), ("2", false));
    }
}

#[tokio::test]
async fn a_panicking_command_fails_alone() {
    for t in testkit::every_backend().await {
        let db = t.db.clone();
        let boom = db.write(|_c| -> store::BoxFut<'_, Result<(), kernel::Error>> {
            Box::pin(async { panic!("bug in a command") })
        });
        let fine = create(&db, product("AFTER", &["M"]));
        let (boom, fine) = tokio::join!(boom, fine);
        assert_eq!(boom.unwrap_err().code, ErrorCode::Internal);
        assert!(fine.is_ok(), "{:?}", fine);
        // The writer survived and keeps committing.
        assert!(create(&db, product("LATER", &["M"])).await.is_ok());
    }
}

/// One node at a time does a cluster-wide job (publishing to NATS): on PostgreSQL the lease
/// is a session advisory lock, taken by one holder, free again when it is dropped.
#[tokio::test]
async fn a_lease_has_one_holder_at_a_time() {
    // On SQLite the one process always holds it.
    let lite = testkit::sqlite().await;
    assert!(lite.db.try_lease("job").await.unwrap().is_some());
    assert!(lite.db.try_lease("job").await.unwrap().is_some());
    let Some(t) = testkit::postgres().await else {
        return;
    };
    let mut first = t.db.try_lease("job").await.unwrap().expect("free at first");
    assert!(first.is_held().await);
    assert!(t.db.try_lease("job").await.unwrap().is_none(), "taken");
    assert!(t.db.try_lease("other job").await.unwrap().is_some());
    drop(first);
    let started = std::time::Instant::now();
    loop {
        // The lock goes with the session, which closes in the background.
        if t.db.try_lease("job").await.unwrap().is_some() {
            break;
        }
        assert!(started.elapsed().as_secs() < 10, "never released");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_outbox_keeps_what_a_reader_or_a_pending_delivery_still_needs() {
    for t in testkit::every_backend().await {
        let db = t.db.clone();
        for i in 0..6 {
            create(&db, product(&format!("PURGE{i}"), &["M"]))
                .await
                .unwrap();
        }
        // On PostgreSQL a feed sees a commit once every older transaction of the cluster
        // ended (another test's may still run).
        let started = std::time::Instant::now();
        let all = loop {
            let all = store::feed::read_after(&db, store::feed::Position::default(), 100)
                .await
                .unwrap();
            if all.len() == 6 || started.elapsed().as_secs() > 20 {
                break all;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(all.len(), 6);
        let later = Timestamp::from_unix_ms(Timestamp::now().unix_ms() + 3_600_000);
        let purge = |limit: i64| {
            let db = db.clone();
            async move {
                db.write(move |c| {
                    Box::pin(async move { store::feed::purge(c, later, limit).await })
                })
                .await
                .unwrap()
            }
        };
        // The NATS publisher has read four; a webhook delivery of the second is pending.
        store::feed::save_cursor(&db, store::feed::NATS_CURSOR, all[3].position)
            .await
            .unwrap();
        let sub = store::webhooks::Subscription {
            id: "whk_purge".into(),
            url: "https://erp.example.com/hook".into(),
            description: None,
            event_types: vec![],
            secret: "whsec_x".into(),
            previous_secret: None,
            previous_until: None,
            status: outbox::webhooks::SubscriptionStatus::Active,
            disabled_reason: None,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        };
        let pending = store::webhooks::Queued {
            subscription_id: sub.id.clone(),
            seq: all[1].position.seq,
            event_id: "evt".into(),
            event_type: all[1].kind.clone(),
            subject: "s".into(),
        };
        let (sub_id, seq) = (sub.id.clone(), pending.seq);
        let webhooks_read = all[5].position;
        db.write(move |c| {
            Box::pin(async move {
                store::webhooks::create(c, &sub).await?;
                store::webhooks::enqueue(c, &[pending], (None, webhooks_read), Timestamp::now())
                    .await
            })
        })
        .await
        .unwrap();
        assert_eq!(purge(100).await, 1, "{}: only the first", t.url);
        // Delivered: then the publisher's cursor is the bound.
        db.write(move |c| {
            Box::pin(async move {
                let done = store::webhooks::Finished::Delivered { status: 200 };
                store::webhooks::finish(c, &[(sub_id, seq, done)], Timestamp::now(), "t").await
            })
        })
        .await
        .unwrap();
        assert_eq!(purge(2).await, 2, "a batch at a time");
        assert_eq!(purge(100).await, 1);
        assert_eq!(purge(100).await, 0);
        let left = store::feed::read_after(&db, store::feed::Position::default(), 100)
            .await
            .unwrap();
        let left: Vec<i64> = left.iter().map(|r| r.position.seq).collect();
        let expected: Vec<i64> = all[4..].iter().map(|r| r.position.seq).collect();
        assert_eq!(left, expected);
        // Nothing younger than the retention goes, read or not.
        store::feed::save_cursor(&db, store::feed::NATS_CURSOR, all[5].position)
            .await
            .unwrap();
        let long_ago = Timestamp::from_unix_ms(0);
        let none = db
            .write(move |c| Box::pin(async move { store::feed::purge(c, long_ago, 100).await }))
            .await
            .unwrap();
        assert_eq!(none, 0);
    }
}

#[tokio::test]
async fn only_clients_make_the_writer_busy() {
    for t in testkit::every_backend().await {
        let db = t.db.clone();
        fn slow(c: &mut store::Conn) -> store::BoxFut<'_, Result<(), kernel::Error>> {
            Box::pin(async move {
                c.execute(
                    "UPDATE outbox_cursors SET seq = seq WHERE name = 'none'",
                    &[],
                )
                .await?;
                Ok(())
            })
        }
        // Forget the migrations' commands.
        db.clients_busy(1);
        let background: Vec<_> = (0..8).map(|_| db.write_background(slow)).collect();
        futures::future::try_join_all(background).await.unwrap();
        assert!(!db.clients_busy(2), "background work is not a client");
        let clients: Vec<_> = (0..8).map(|_| db.write(slow)).collect();
        futures::future::try_join_all(clients).await.unwrap();
        assert!(db.clients_busy(2), "eight clients waited at once");
        assert!(!db.clients_busy(2), "the peak is read once");
    }
}
