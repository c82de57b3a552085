//! The notifier, on every node: plans firings from the outbox, the behavioural log and idle
//! carts (`app::notifier`), claims what is due, and sends it — e-mail over SMTP or into a
//! folder of `.eml` files, SMS and push through an HTTP provider signed like webhooks.
//!
//! A firing is sent by the node that leased it; a customer gets it once unless this node
//! dies between the provider's acceptance and the record of it (then, after the lease, it is
//! sent again with the same Message-ID / idempotency key, which the provider can recognise).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use app::notifier::{Message, Prepared, Settings};
use app::reference::Reference;
use kernel::Timestamp;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use notify::Medium;
use store::notifications::Outcome;

/// How long a claimed firing is this node's.
const LEASE_S: i64 = 120;
/// Firings claimed per round.
const BATCH: i64 = 100;
/// Outbox events read per planning round.
const PLAN_BATCH: i64 = 500;
/// The pause when there was nothing to do.
const IDLE: Duration = Duration::from_millis(250);
/// How often carts are looked at for the abandoned-cart rule.
const CART_SWEEP: Duration = Duration::from_secs(60);
/// Waits after a failed attempt; then it is given up.
const RETRY_S: [i64; 5] = [60, 300, 1800, 7200, 21600];

/// Where e-mail goes.
pub enum Mail {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder (the demo without an SMTP server).
    Folder(AsyncFileTransport<Tokio1Executor>),
}

/// An SMS or push provider reached over HTTP.
#[derive(Clone)]
pub struct Provider {
    pub url: String,
    /// `whsec_…`: requests are signed as webhooks are, so the provider can check them.
    pub secret: String,
}

/// How this node reaches customers.
pub struct Transports {
    pub mail: Option<(Mail, Mailbox)>,
    pub sms: Option<Provider>,
    pub push: Option<Provider>,
    pub client: reqwest::Client,
}

impl Transports {
    /// The media something is configured for.
    pub fn media(&self) -> Vec<Medium> {
        let mut media = Vec::new();
        if self.mail.is_some() {
            media.push(Medium::Email);
        }
        if self.sms.is_some() {
            media.push(Medium::Sms);
        }
        if self.push.is_some() {
            media.push(Medium::Push);
        }
        media
    }

    /// E-mail to an SMTP server (`smtp://host:port`, no TLS: a local relay or sink) or to
    /// a folder.
    pub fn mail(smtp: Option<&str>, folder: Option<PathBuf>) -> anyhow::Result<Option<Mail>> {
        if let Some(url) = smtp {
            let rest = url
                .strip_prefix("smtp://")
                .ok_or_else(|| anyhow::anyhow!("--smtp-url must look like smtp://host:port"))?;
            let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "25"));
            let port: u16 = port.trim_end_matches('/').parse()?;
            let smtp = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                .port(port)
                .timeout(Some(Duration::from_secs(10)))
                .build();
            return Ok(Some(Mail::Smtp(smtp)));
        }
        Ok(folder.map(|dir| {
            let _ = std::fs::create_dir_all(&dir);
            Mail::Folder(AsyncFileTransport::<Tokio1Executor>::new(dir))
        }))
    }
}

/// How this node notifies, as configured (`relais serve --smtp-url …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    pub smtp_url: Option<String>,
    pub mail_dir: Option<PathBuf>,
    pub mail_from: String,
    pub sms_url: Option<String>,
    pub push_url: Option<String>,
    pub provider_secret: Option<String>,
    /// `21:00-08:00`.
    pub quiet_hours: String,
    pub time_zone: String,
}

impl Default for NotifySettings {
    /// No transport; the CLI's defaults for the rest.
    fn default() -> Self {
        NotifySettings {
            smtp_url: None,
            mail_dir: None,
            mail_from: "Relais <notifications@relais.localhost>".into(),
            sms_url: None,
            push_url: None,
            provider_secret: None,
            quiet_hours: "21:00-08:00".into(),
            time_zone: "Europe/Paris".into(),
        }
    }
}

impl NotifySettings {
    /// Nothing configured: the notifier does not run.
    pub fn is_off(&self) -> bool {
        self.smtp_url.is_none()
            && self.mail_dir.is_none()
            && self.sms_url.is_none()
            && self.push_url.is_none()
    }

    /// The transports and rules of sending, checked.
    pub fn open(&self) -> anyhow::Result<(Transports, Settings)> {
        let from: Mailbox = self
            .mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("--mail-from is not an address: {e}"))?;
        let mail = Transports::mail(self.smtp_url.as_deref(), self.mail_dir.clone())?;
        let secret = || {
            self.provider_secret
                .clone()
                .filter(|s| s.starts_with("whsec_"))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--provider-secret (whsec_…) is needed with --sms-url or --push-url"
                    )
                })
        };
        let provider = |url: &Option<String>| -> anyhow::Result<Option<Provider>> {
            url.as_ref()
                .map(|u| {
                    Ok(Provider {
                        url: u.clone(),
                        secret: secret()?,
                    })
                })
                .transpose()
        };
        let transports = Transports {
            mail: mail.map(|m| (m, from)),
            sms: provider(&self.sms_url)?,
            push: provider(&self.push_url)?,
            client: crate::webhooks::client(),
        };
        if jiff::tz::TimeZone::get(&self.time_zone).is_err() {
            anyhow::bail!("--time-zone {} is not an IANA time zone", self.time_zone);
        }
        let settings = Settings {
            quiet_hours: parse_quiet_hours(&self.quiet_hours)?,
            time_zone: self.time_zone.clone(),
            media: transports.media(),
        };
        Ok((transports, settings))
    }
}

/// `21:00-08:00` → minutes after midnight.
fn parse_quiet_hours(text: &str) -> anyhow::Result<notify::reach::QuietHours> {
    let minute = |t: &str| -> Option<i64> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
    };
    let parsed = text
        .split_once('-')
        .and_then(|(a, b)| Some((minute(a)?, minute(b)?)));
    let (start_minute, end_minute) =
        parsed.ok_or_else(|| anyhow::anyhow!("--quiet-hours must look like 21:00-08:00"))?;
    Ok(notify::reach::QuietHours {
        start_minute,
        end_minute,
    })
}

/// Runs the notifier until the task is dropped.
pub async fn run(
    reference: std::sync::Arc<Reference>,
    transports: Transports,
    mut settings: Settings,
    pace: std::sync::Arc<crate::pace::Pace>,
) {
    settings.media = transports.media();
    let db = reference.db().clone();
    let mut carts_looked_at: Option<Instant> = None;
    loop {
        let mut busy = false;
        match app::notifier::plan(&reference, PLAN_BATCH).await {
            Ok(n) => busy |= n as i64 == PLAN_BATCH,
            Err(e) if e.code == kernel::ErrorCode::Conflict => busy = true,
            Err(e) => tracing::warn!(error = %e, "planning notifications failed; will retry"),
        }
        match app::notifier::plan_behaviour(&reference).await {
            Ok(n) => busy |= n > 0,
            Err(e) if e.code == kernel::ErrorCode::Conflict => busy = true,
            Err(e) => tracing::warn!(error = %e, "planning from behaviour failed; will retry"),
        }
        if carts_looked_at.is_none_or(|t| t.elapsed() >= CART_SWEEP) {
            carts_looked_at = Some(Instant::now());
            if let Err(e) = app::notifier::plan_idle_carts(&db, 500).await {
                tracing::warn!(error = %e, "looking for idle carts failed; will retry");
            }
        }
        match round(&db, &transports, &settings).await {
            Ok(n) => busy |= n > 0,
            Err(e) => tracing::warn!(error = %e, "sending notifications failed; will retry"),
        }
        if !busy {
            tokio::time::sleep(IDLE).await;
        }
        // Messages can wait a beat while clients keep the writer busy.
        pace.give_way().await;
    }
}

/// Claims due firings, prepares and sends them, records the outcomes; answers how many.
pub async fn round(
    db: &store::Db,
    transports: &Transports,
    settings: &Settings,
) -> Result<usize, kernel::Error> {
    let claimed = app::notifier::claim(db, BATCH, LEASE_S).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let prepared = app::notifier::prepare(db, settings, &claimed).await?;
    let sends = prepared.into_iter().map(|p| async {
        match p {
            Prepared::Done(outcome) => outcome,
            Prepared::Send(m) => send(transports, m).await,
        }
    });
    let outcomes = futures::future::join_all(sends).await;
    let n = claimed.len();
    let results: Vec<_> = claimed
        .into_iter()
        .zip(outcomes)
        .map(|(c, o)| {
            let o = retry_or_give_up(o, c.attempts);
            (c, o)
        })
        .collect();
    for (c, o) in &results {
        let outcome = match o {
            Outcome::Sent { .. } => "sent",
            Outcome::Skipped(_) => "skipped",
            Outcome::Cancelled(_) => "cancelled",
            Outcome::Postponed(_) => "postponed",
            Outcome::Failed { .. } => "failed",
        };
        metrics::counter!("relais_notifications_total", "rule" => c.rule.as_str(), "outcome" => outcome)
            .increment(1);
    }
    app::notifier::finish(db, results).await?;
    Ok(n)
}

/// A transient failure is tried again on the schedule, then given up.
fn retry_or_give_up(o: Outcome, attempts: i64) -> Outcome {
    match o {
        Outcome::Failed {
            error,
            retry_at: Some(_),
        } => {
            let wait = RETRY_S.get(attempts as usize).copied();
            Outcome::Failed {
                error,
                retry_at: wait
                    .map(|s| Timestamp::from_unix_ms(Timestamp::now().unix_ms() + s * 1000)),
            }
        }
        o => o,
    }
}

fn sent(m: &Message, answer: String) -> Outcome {
    Outcome::Sent {
        medium: m.medium,
        recipient: m.recipient.clone(),
        language: m.language,
        title: m.rendered.subject.clone(),
        answer,
    }
}

fn failed(error: String, transient: bool) -> Outcome {
    let retry_at = transient.then(Timestamp::now);
    Outcome::Failed { error, retry_at }
}

async fn send(t: &Transports, m: Message) -> Outcome {
    match m.medium {
        Medium::Email => match &t.mail {
            Some((mail, from)) => send_mail(mail, from, &m).await,
            None => failed("no e-mail transport is configured".into(), false),
        },
        Medium::Sms | Medium::Push => {
            let provider = if m.medium == Medium::Sms {
                &t.sms
            } else {
                &t.push
            };
            match provider {
                Some(p) => send_http(&t.client, p, &m).await,
                None => failed(
                    format!("no {} provider is configured", m.medium.as_str()),
                    false,
                ),
            }
        }
    }
}

/// `Content-Language` (RFC 3282): the language the message is written in.
#[derive(Debug, Clone)]
struct ContentLanguage(String);

impl lettre::message::header::Header for ContentLanguage {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ContentLanguage(s.to_owned()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The e-mail: text and HTML alternatives, and the calendar entry when there is one.
fn build_mail(from: &Mailbox, m: &Message) -> Result<lettre::Message, String> {
    let to: Mailbox = m
        .recipient
        .parse()
        .map_err(|e| format!("bad recipient: {e}"))?;
    let alternative =
        MultiPart::alternative_plain_html(m.rendered.text.clone(), m.rendered.html.clone());
    let body = match &m.calendar {
        Some(ics) => {
            let kind = ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
                .map_err(|e| e.to_string())?;
            let name = match m.language {
                notify::Language::Fr => "rendez-vous.ics",
                notify::Language::En => "appointment.ics",
            };
            MultiPart::mixed()
                .multipart(alternative)
                .singlepart(Attachment::new(name.to_owned()).body(ics.clone(), kind))
        }
        None => alternative,
    };
    let id = m.key.replace(
        |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
        ".",
    );
    lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(m.rendered.subject.clone())
        .message_id(Some(format!("<{id}@relais>")))
        .header(ContentLanguage(m.language.as_str().to_owned()))
        .multipart(body)
        .map_err(|e| e.to_string())
}

async fn send_mail(mail: &Mail, from: &Mailbox, m: &Message) -> Outcome {
    let email = match build_mail(from, m) {
        Ok(e) => e,
        Err(e) => return failed(e, false),
    };
    match mail {
        Mail::Smtp(smtp) => match smtp.send(email).await {
            Ok(r) => sent(m, format!("smtp {}", r.code())),
            Err(e) => failed(format!("smtp: {e}"), !e.is_permanent()),
        },
        Mail::Folder(dir) => match dir.send(email).await {
            Ok(id) => sent(m, format!("written as {id}.eml")),
            Err(e) => failed(format!("writing the .eml failed: {e}"), true),
        },
    }
}

/// SMS and push: one signed JSON POST; 2xx is sent, another 4xx (but 429) is final.
async fn send_http(client: &reqwest::Client, p: &Provider, m: &Message) -> Outcome {
    let body = serde_json::json!({
        "id": m.key, "medium": m.medium.as_str(), "to": m.recipient,
        "language": m.language.as_str(), "title": m.rendered.subject, "text": m.rendered.short,
    })
    .to_string();
    let at = Timestamp::now();
    let signature = outbox::webhooks::signature_header(&p.secret, None, (&m.key, at, &body));
    let answer = client
        .post(&p.url)
        .header("content-type", "application/json")
        .header("webhook-id", &m.key)
        .header(
            "webhook-timestamp",
            at.unix_ms().div_euclid(1000).to_string(),
        )
        .header("webhook-signature", signature)
        .header("idempotency-key", &m.key)
        .body(body)
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => sent(m, format!("http {}", r.status().as_u16())),
        Ok(r) => {
            let s = r.status().as_u16();
            failed(format!("the provider answered {s}"), s == 429 || s >= 500)
        }
        Err(e) => failed(format!("could not reach the provider: {e}"), true),
    }
}
