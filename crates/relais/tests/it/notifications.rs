//! Notifications for real: a served node writes to customers through a real SMTP server
//! (Python's `aiosmtpd` when `RELAIS_TEST_PYTHON` has it; otherwise the `.eml` folder
//! transport, and the test says so), and the messages are read back as MIME: subject,
//! language, the calendar entry, one message per occasion although the event is planned
//! twice and two nodes run, no marketing without consent, and the nearest-store offer story
//! — on SQLite and PostgreSQL.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mail_parser::{MessageParser, MimeHeaders};
use relais::notify::NotifySettings;
use relais::server::{Settings, serve_db};
use serde_json::{Value, json};

/// Where messages land: an SMTP sink's Maildir, or the folder transport's.
struct Sink {
    dir: tempfile::TempDir,
    smtp: Option<(String, std::process::Child)>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some((_, child)) = &mut self.smtp {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Sink {
    async fn start() -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let Some(python) = std::env::var("RELAIS_TEST_PYTHON").ok() else {
            eprintln!(
                "note: RELAIS_TEST_PYTHON is not set; e-mail goes to the .eml folder, not SMTP"
            );
            return Sink { dir, smtp: None };
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = dir.path().join("maildir");
        let child = std::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox", maildir.to_str().unwrap()])
            .spawn()
            .expect("aiosmtpd starts");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "aiosmtpd did not listen"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Sink {
            dir,
            smtp: Some((format!("smtp://127.0.0.1:{port}"), child)),
        }
    }

    fn settings(&self) -> NotifySettings {
        match &self.smtp {
            Some((url, _)) => NotifySettings {
                smtp_url: Some(url.clone()),
                ..NotifySettings::default()
            },
            None => NotifySettings {
                mail_dir: Some(self.dir.path().join("eml")),
                ..NotifySettings::default()
            },
        }
    }

    /// Every message received so far, raw.
    fn messages(&self) -> Vec<Vec<u8>> {
        let folders: Vec<PathBuf> = match &self.smtp {
            Some(_) => vec![
                self.dir.path().join("maildir/new"),
                self.dir.path().join("maildir/cur"),
            ],
            None => vec![self.dir.path().join("eml")],
        };
        let mut out = Vec::new();
        for f in folders {
            let Ok(entries) = std::fs::read_dir(&f) else {
                continue;
            };
            for e in entries {
                let path = e.unwrap().path();
                if path.is_file() && !is_json(&path) {
                    out.push(std::fs::read(path).unwrap());
                }
            }
        }
        out
    }

    /// The messages sent to `to`.
    fn to(&self, to: &str) -> Vec<Vec<u8>> {
        self.messages()
            .into_iter()
            .filter(|m| String::from_utf8_lossy(m).contains(to))
            .collect()
    }
}

fn is_json(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "json")
}

/// A served node: its address; stopped when dropped.
struct Node {
    base: String,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(db: &store::Db, notify: NotifySettings) -> Node {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let listener = relais::listen::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let settings = Settings {
        notify,
        ..Settings::default()
    };
    let task = tokio::spawn(serve_db(db.clone(), listener, settings, Some(tx)));
    Node {
        base: format!("http://{}", rx.await.unwrap()),
        task,
    }
}

/// Calls the API of a node with a key.
struct Api {
    base: String,
    key: String,
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        call(&self.base, &self.key, method, path, body).await
    }

    /// Léa's cart on the web: one jacket.
    async fn jacket_cart(&self, customer: &str) -> Value {
        let body = json!({"customer_id": customer, "channel": "web",
            "lines": [{"sku": "JK-M", "quantity": 1}]});
        self.ok("POST", "/v1/carts", body).await
    }

    async fn checkout(&self, cart: &Value, body: Value) -> Value {
        let path = format!("/v1/carts/{}/checkout", cart["id"].as_str().unwrap());
        self.ok("POST", &path, body).await
    }

    /// A click & collect order in Lyon, prepared and ready: its id and pickup code.
    async fn ready_pickup(&self, customer: &str) -> (String, String) {
        let cart = self.jacket_cart(customer).await;
        let pickup = json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}});
        let id = self.checkout(&cart, pickup).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.ok(
            "POST",
            &format!("/v1/orders/{id}/start_preparing"),
            json!({}),
        )
        .await;
        let ready = self
            .ok("POST", &format!("/v1/orders/{id}/mark_ready"), json!({}))
            .await;
        (id, ready["pickup_code"].as_str().unwrap().to_owned())
    }

    async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.call(method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
        answer
    }
}

async fn call(base: &str, key: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn eventually(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(secs) {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within {secs} s: {what}");
}

fn store_body(code: &str, city: &str, (lat, lon): (f64, f64)) -> Value {
    json!({
        "code": code, "name": format!("Store {city}"), "kind": "store",
        "address": {"line1": "1 rue de la Gare", "postal_code": "69002", "city": city, "country": "FR"},
        "coordinates": {"latitude": lat, "longitude": lon}, "time_zone": "Europe/Paris",
        "opening_hours": {"mon": [{"opens": "10:00", "closes": "19:00"}]},
        "owner": {"kind": "company", "name": "Relais SA"},
        "capabilities": ["pickup", "reserve", "returns"],
    })
}

/// Lyon and Paris, the web channel, a jacket in stock in Lyon only, and Léa (French, with a
/// verified e-mail).
async fn shop(api: &Api) -> String {
    api.ok(
        "POST",
        "/v1/locations",
        store_body("LYS-BELLECOUR", "Lyon", (45.7578, 4.8320)),
    )
    .await;
    api.ok(
        "POST",
        "/v1/locations",
        store_body("PAR-RIVOLI", "Paris", (48.86, 2.34)),
    )
    .await;
    api.ok(
        "POST",
        "/v1/channels",
        json!({"code": "web", "kind": "web", "name": "web"}),
    )
    .await;
    let product = json!({"title": "Veste Alpine", "brand": "Altura", "category": "outdoor/jackets",
        "variants": [{"sku": "JK-M", "attributes": {"size": "M"}}]});
    api.ok("POST", "/v1/products", product).await;
    api.ok(
        "PUT",
        "/v1/variants/JK-M/prices/EUR",
        json!({"amount_minor": 12900}),
    )
    .await;
    let receipt = json!({"sku": "JK-M", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 3, "reason": "delivery"});
    api.ok("POST", "/v1/stock/movements", receipt).await;
    customer(api, "lea@example.com", "Léa").await
}

async fn customer(api: &Api, email: &str, name: &str) -> String {
    let body = json!({"identifiers": [{"kind": "email", "value": email, "verified": true}], "given_name": name});
    api.ok("POST", "/v1/customers", body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn parse(raw: &[u8]) -> mail_parser::Message<'_> {
    MessageParser::default().parse(raw).expect("a MIME message")
}

#[tokio::test]
async fn pickup_ready_is_mailed_once_in_the_customers_language_with_a_calendar_entry() {
    for t in testkit::every_backend().await {
        let sink = Sink::start().await;
        let admin = relais::server::create_key(&t.db, "t", &["admin".to_owned()], "t")
            .await
            .unwrap();
        // Two nodes notify from the same database.
        let other = store::Db::connect(&t.url, store::DbOptions::default())
            .await
            .unwrap();
        let _second = start(&other, sink.settings()).await;
        let first = start(&t.db, sink.settings()).await;
        let api = Api {
            base: first.base.clone(),
            key: admin,
        };
        let lea = shop(&api).await;
        let (id, code) = api.ready_pickup(&lea).await;

        eventually("the pickup mail", 20, || {
            sink.to("lea@example.com").len() == 1
        })
        .await;
        let raw = sink.to("lea@example.com").remove(0);
        let mail = parse(&raw);
        assert_eq!(
            mail.subject(),
            Some(format!("Votre commande {id} vous attend à Store Lyon").as_str())
        );
        assert_eq!(
            mail.header_raw("Content-Language").map(str::trim),
            Some("fr")
        );
        let text = mail.body_text(0).unwrap();
        assert!(text.starts_with("Bonjour Léa,"), "{text}");
        assert!(
            text.contains(&format!("Votre code de retrait : {code}")),
            "{text}"
        );
        assert!(mail.body_html(0).unwrap().contains("<html lang=\"fr\">"));
        let ics = mail
            .attachments()
            .find(|a| a.attachment_name() == Some("rendez-vous.ics"))
            .expect("an .ics");
        let ics = String::from_utf8_lossy(ics.contents());
        assert!(
            ics.contains("BEGIN:VEVENT") && ics.contains("DTEND:"),
            "{ics}"
        );
        assert!(ics.contains(&format!("UID:{id}@relais")));

        // The event read again (the cursor set back), on either node: still one message.
        store::feed::save_cursor(
            &t.db,
            store::notifications::CURSOR,
            store::feed::Position::default(),
        )
        .await
        .unwrap();
        let everything = store::feed::read_after(&t.db, store::feed::Position::default(), 100_000);
        let head = everything.await.unwrap().last().unwrap().position;
        let started = Instant::now();
        while store::feed::cursor(&t.db, store::notifications::CURSOR)
            .await
            .unwrap()
            < Some(head)
        {
            let at = store::feed::cursor(&t.db, store::notifications::CURSOR)
                .await
                .unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "planning did not pass the event again: {at:?} < {head:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            sink.to("lea@example.com").len(),
            1,
            "{}",
            t.db.backend().as_str()
        );
        let log = api
            .ok(
                "GET",
                &format!("/v1/notifications?customer_id={lea}"),
                json!(null),
            )
            .await;
        let sent: Vec<&Value> = log["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["status"] == "sent")
            .collect();
        assert_eq!(sent.len(), 1, "{log}");
        assert_eq!(sent[0]["rule"], "pickup_ready");
        assert_eq!(sent[0]["medium"], "email");
        // The reminders wait for their time.
        assert!(
            log["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["rule"] == "pickup_reminder" && n["status"] == "scheduled")
        );
        // The send is in her timeline.
        let timeline = api
            .ok("GET", &format!("/v1/customers/{lea}/timeline"), json!(null))
            .await;
        assert!(
            timeline["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "notification" && e["title"] == "pickup_ready sent"),
            "{timeline}"
        );
    }
}

/// Never quiet: the tests may run at any hour.
fn awake(sink: &Sink) -> NotifySettings {
    NotifySettings {
        quiet_hours: "00:00-00:00".into(),
        ..sink.settings()
    }
}

/// Sends a product view of JK-M from near Bellecour, and waits until the notifier has read
/// it.
async fn view(api: &Api, db: &store::Db, email: &str) {
    let event = json!({"channel": "web", "type": "product_view",
        "identifiers": [{"kind": "email", "value": email}],
        "properties": {"sku": "JK-M", "latitude": 45.7640, "longitude": 4.8357}});
    api.ok("POST", "/v1/events", json!({"events": [event]}))
        .await;
    let appended = store::customer_events::positions(db)
        .await
        .unwrap()
        .appended;
    let started = Instant::now();
    loop {
        let at = store::feed::cursor(db, store::notifications::EVENTS_CURSOR)
            .await
            .unwrap();
        if at.is_some_and(|p| p.seq >= appended) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the view was not read: {at:?} < {appended}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The send, if any, follows the planning within a round.
    tokio::time::sleep(Duration::from_millis(1200)).await;
}

fn consent(status: &str) -> Value {
    json!({"purpose": "email_marketing", "status": status, "method": "web_form", "notice_version": "2026-09"})
}

#[tokio::test]
async fn the_nearest_store_offer_needs_consent_comes_once_and_says_why() {
    for t in testkit::every_backend().await {
        let sink = Sink::start().await;
        let admin = relais::server::create_key(&t.db, "t", &["admin".to_owned()], "t")
            .await
            .unwrap();
        let node = start(&t.db, awake(&sink)).await;
        let api = Api {
            base: node.base.clone(),
            key: admin,
        };
        let lea = shop(&api).await;
        let marc = customer(&api, "marc@example.com", "Marc").await;
        let rule =
            json!({"enabled": true, "delay_minutes": 0, "media": ["email"], "every_days": 14});
        api.ok("PUT", "/v1/notification-rules/nearest_store_offer", rule)
            .await;
        view(&api, &t.db, "lea@example.com").await;
        assert!(
            sink.to("lea@example.com").is_empty(),
            "an offer without consent"
        );

        api.ok(
            "POST",
            &format!("/v1/customers/{lea}/consents"),
            consent("granted"),
        )
        .await;
        view(&api, &t.db, "lea@example.com").await;
        eventually("the offer", 10, || sink.to("lea@example.com").len() == 1).await;
        let raw = sink.to("lea@example.com").remove(0);
        let mail = parse(&raw);
        assert_eq!(
            mail.subject(),
            Some("Veste Alpine — M vous attend à Store Lyon")
        );
        let text = mail.body_text(0).unwrap();
        assert!(
            text.contains("votre magasin le plus proche à 0,7 km (3 disponible(s))"),
            "{text}"
        );
        let log = api
            .ok(
                "GET",
                &format!("/v1/notifications?customer_id={lea}&rule=nearest_store_offer"),
                json!(null),
            )
            .await;
        let reason = log["data"][0]["reason"].as_str().unwrap().to_owned();
        assert!(
            reason.contains("Store Lyon (LYS-BELLECOUR) is the nearest store with it in stock"),
            "{reason}"
        );
        assert!(
            reason.contains("the position sent with the view"),
            "{reason}"
        );

        // Twice in the window: once.
        view(&api, &t.db, "lea@example.com").await;
        assert_eq!(
            sink.to("lea@example.com").len(),
            1,
            "{}",
            t.db.backend().as_str()
        );

        // Granted, then withdrawn: none.
        api.ok(
            "POST",
            &format!("/v1/customers/{marc}/consents"),
            consent("granted"),
        )
        .await;
        api.ok(
            "POST",
            &format!("/v1/customers/{marc}/consents"),
            consent("withdrawn"),
        )
        .await;
        view(&api, &t.db, "marc@example.com").await;
        assert!(
            sink.to("marc@example.com").is_empty(),
            "an offer after withdrawal"
        );
    }
}

#[tokio::test]
async fn back_in_stock_at_my_store_is_told_once() {
    for t in testkit::every_backend().await {
        let sink = Sink::start().await;
        let admin = relais::server::create_key(&t.db, "t", &["admin".to_owned()], "t")
            .await
            .unwrap();
        let node = start(&t.db, awake(&sink)).await;
        let api = Api {
            base: node.base.clone(),
            key: admin,
        };
        let lea = shop(&api).await;
        api.ok(
            "PUT",
            &format!("/v1/customers/{lea}/contact-preferences"),
            json!({"language": "en"}),
        )
        .await;
        let path = format!("/v1/customers/{lea}/stock-alerts");
        let ask = json!({"sku": "JK-M", "location": "PAR-RIVOLI"});
        let alert = api.ok("POST", &path, ask.clone()).await;
        // Asking again answers the open request.
        assert_eq!(api.ok("POST", &path, ask).await["id"], alert["id"]);
        let (status, bad) = api
            .call(
                "POST",
                &path,
                json!({"sku": "NOPE", "location": "PAR-RIVOLI"}),
            )
            .await;
        assert_eq!(
            (status, bad["error"]["code"].as_str()),
            (422, Some("unknown_reference"))
        );
        for _ in 0..2 {
            let receipt = json!({"sku": "JK-M", "location": "PAR-RIVOLI", "kind": "receipt", "quantity": 1, "reason": "delivery"});
            api.ok("POST", "/v1/stock/movements", receipt).await;
        }
        eventually("the back-in-stock mail", 10, || {
            sink.to("lea@example.com").len() == 1
        })
        .await;
        let raw = sink.to("lea@example.com").remove(0);
        let mail = parse(&raw);
        assert_eq!(
            mail.subject(),
            Some("Veste Alpine — M is back at Store Paris")
        );
        assert_eq!(
            mail.header_raw("Content-Language").map(str::trim),
            Some("en")
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(sink.to("lea@example.com").len(), 1);
        let alerts = api.ok("GET", &path, json!(null)).await;
        assert_eq!(alerts["data"][0]["status"], "notified");
    }
}

/// An SMS provider on a local port: what it was sent, with the headers.
async fn sms_provider() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String)>>>,
) {
    let got: std::sync::Arc<std::sync::Mutex<Vec<_>>> = Default::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push((headers, body));
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/sms"), got)
}

#[tokio::test]
async fn a_customer_who_prefers_sms_gets_a_signed_sms_and_erasure_blanks_the_log() {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    for t in testkit::every_backend().await {
        let sink = Sink::start().await;
        let (url, got) = sms_provider().await;
        let settings = NotifySettings {
            sms_url: Some(url),
            provider_secret: Some(SECRET.into()),
            ..awake(&sink)
        };
        let admin = relais::server::create_key(&t.db, "t", &["admin".to_owned()], "t")
            .await
            .unwrap();
        let node = start(&t.db, settings).await;
        let api = Api {
            base: node.base.clone(),
            key: admin,
        };
        let lea = shop(&api).await;
        let phone = json!({"identifiers": [{"kind": "phone", "value": "06 12 34 56 78"}]});
        api.ok("POST", &format!("/v1/customers/{lea}/identities"), phone)
            .await;
        api.ok(
            "PUT",
            &format!("/v1/customers/{lea}/contact-preferences"),
            json!({"medium": "sms"}),
        )
        .await;
        let (id, code) = api.ready_pickup(&lea).await;

        eventually("the SMS", 10, || got.lock().unwrap().len() == 1).await;
        let (headers, body) = got.lock().unwrap()[0].clone();
        let header = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_owned();
        let sms: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(sms["to"], "+33612345678");
        assert_eq!(sms["medium"], "sms");
        assert!(sms["text"].as_str().unwrap().contains(&code), "{sms}");
        // Signed as webhooks are: the provider can check it came from Relais.
        let stamp: i64 = header("webhook-timestamp").parse().unwrap();
        let expected = outbox::webhooks::sign(SECRET, &header("webhook-id"), stamp, &body);
        assert_eq!(header("webhook-signature"), expected);
        assert_eq!(header("idempotency-key"), format!("pickup_ready:{id}"));
        assert!(
            sink.to("lea@example.com").is_empty(),
            "the SMS was preferred"
        );

        api.ok("POST", &format!("/v1/customers/{lea}/erasure"), json!({}))
            .await;
        let log = api
            .ok(
                "GET",
                &format!("/v1/notifications?customer_id={lea}&rule=pickup_ready"),
                json!(null),
            )
            .await;
        assert_eq!(log["data"][0]["recipient"], "[erased]", "{log}");
        assert!(log["data"][0]["title"].is_null());
    }
}

/// The pipeline driven by hand (no transport: the node's notifier is off): an abandoned cart
/// fires once and, without marketing consent, is skipped with its reason; a sign-up fires
/// the welcome after its delay; a reservation's warning is due its delay before the deadline.
#[tokio::test]
async fn idle_carts_sign_ups_and_reservations_fire_as_configured() {
    for t in testkit::every_backend().await {
        let admin = relais::server::create_key(&t.db, "t", &["admin".to_owned()], "t")
            .await
            .unwrap();
        let node = start(&t.db, NotifySettings::default()).await;
        let api = Api {
            base: node.base.clone(),
            key: admin,
        };
        let lea = shop(&api).await;
        let reference = app::reference::Reference::new(t.db.clone());
        // The readers start from here.
        app::notifier::plan(&reference, 500).await.unwrap();
        app::notifier::plan_behaviour(&reference).await.unwrap();
        let rule = json!({"enabled": true, "delay_minutes": 0, "media": ["email"]});
        api.ok("PUT", "/v1/notification-rules/abandoned_cart", rule)
            .await;
        let cart = api.jacket_cart(&lea).await;
        assert_eq!(app::notifier::plan_idle_carts(&t.db, 100).await.unwrap(), 1);
        assert_eq!(
            app::notifier::plan_idle_carts(&t.db, 100).await.unwrap(),
            0,
            "once per cart"
        );
        let settings = app::notifier::Settings {
            quiet_hours: notify::reach::QuietHours {
                start_minute: 0,
                end_minute: 0,
            },
            time_zone: "Europe/Paris".into(),
            media: vec![notify::Medium::Email],
        };
        let claimed = app::notifier::claim(&t.db, 10, 60).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].subject, cart["id"].as_str().unwrap());
        let prepared = app::notifier::prepare(&t.db, &settings, &claimed)
            .await
            .unwrap();
        let skipped = store::notifications::Outcome::Skipped(
            "no consent: email_marketing not granted".into(),
        );
        assert_eq!(
            prepared,
            vec![app::notifier::Prepared::Done(skipped.clone())]
        );
        let finished = claimed.into_iter().zip([skipped]).collect();
        app::notifier::finish(&t.db, finished).await.unwrap();

        // A sign-up: the welcome, ten minutes later.
        let signup = json!({"channel": "web", "type": "sign_up",
            "identifiers": [{"kind": "email", "value": "lea@example.com"}], "properties": {}});
        api.ok("POST", "/v1/events", json!({"events": [signup]}))
            .await;
        // A reservation: its warning six hours before the hold ends.
        let reserve = json!({"mode": "reserve", "location": "LYS-BELLECOUR"});
        let cart = api.jacket_cart(&lea).await;
        let order = api.checkout(&cart, reserve).await;
        let started = Instant::now();
        let log = loop {
            // Behavioural events are read once resolved (on SQLite, behind the log).
            app::notifier::plan(&reference, 500).await.unwrap();
            app::notifier::plan_behaviour(&reference).await.unwrap();
            let log = api
                .ok(
                    "GET",
                    &format!("/v1/notifications?customer_id={lea}"),
                    json!(null),
                )
                .await;
            let rules: Vec<&str> = log["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["rule"].as_str().unwrap())
                .collect();
            let both = rules.contains(&"reservation_expiring") && rules.contains(&"welcome");
            if both || started.elapsed() > Duration::from_secs(20) {
                break log;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let of = |rule: &str| {
            log["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["rule"] == rule)
                .cloned()
                .unwrap_or_else(|| panic!("no {rule} in {log}"))
        };
        let due = |n: &Value| {
            kernel::Timestamp::parse(n["due_at"].as_str().unwrap())
                .unwrap()
                .unix_ms()
        };
        let now = kernel::Timestamp::now().unix_ms();
        let welcome = of("welcome");
        assert_eq!(welcome["status"], "scheduled");
        assert!(
            (9 * 60_000..=10 * 60_000).contains(&(due(&welcome) - now)),
            "{welcome}"
        );
        let warning = of("reservation_expiring");
        let deadline = kernel::Timestamp::parse(order["deadline_at"].as_str().unwrap())
            .unwrap()
            .unix_ms();
        assert_eq!(deadline - due(&warning), 6 * 3_600_000, "{warning}");
        assert_eq!(
            of("abandoned_cart")["outcome"],
            "no consent: email_marketing not granted"
        );
    }
}
