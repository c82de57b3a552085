//! Webhooks: subscriptions to event types, signed deliveries and their retries.
//!
//! A subscription names an HTTP(S) URL and the event types it wants (exact types or
//! `relais.<entity>.*`; none: every type). Each delivery is one CloudEvent POSTed as JSON and
//! signed as the Standard Webhooks specification says: `webhook-id` is the event id (a
//! receiver de-duplicates on it), `webhook-timestamp` the Unix seconds of the attempt, and
//! `webhook-signature` `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the
//! subscription's secret (`whsec_<base64>`). While a secret is rotated, both the new and the
//! previous secret sign, space-separated, until the previous one expires.
//!
//! A 2xx answer delivers; `410 Gone` disables the subscription; anything else (another
//! status, a timeout, a refused connection) is retried after [`RETRY_DELAYS_S`] — about three
//! days in all — after which the delivery is given up and the subscription disabled.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use kernel::{Error, Timestamp};
use serde::{Deserialize, Serialize};

/// Waits between attempts: none, 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 12 h,
/// 24 h, 24 h — the last attempt 3 days and 3 hours after the first. The first retry goes
/// with the dispatcher's next round: a failed delivery holds back the later ones of its
/// subject, and most failures are passing ones (a receiver restarting, a kept-alive
/// connection it had just closed) that a second try clears.
pub const RETRY_DELAYS_S: &[i64] = &[
    0, 5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 43_200, 86_400, 86_400,
];

/// How long a rotated-out secret keeps signing, so receivers can switch at their pace.
pub const PREVIOUS_SECRET_S: i64 = 24 * 3600;

/// A webhook subscription's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    /// Nothing is delivered; events meanwhile are not queued for it.
    Disabled,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<SubscriptionStatus> {
        [SubscriptionStatus::Active, SubscriptionStatus::Disabled]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Checks a receiver's URL: `http://` or `https://`, a host, at most 2,000 characters.
pub fn validate_url(field: &str, url: &str) -> Result<String, Error> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    let fine = url.len() <= 2000
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && host.is_some_and(|h| !h.is_empty() && !h.starts_with(':'));
    if !fine {
        return Err(Error::validation(
            field,
            "an http:// or https:// URL with a host, at most 2000 characters",
        ));
    }
    Ok(url.to_owned())
}

/// Checks the event types a subscription names: each a type of the catalogue or
/// `relais.<entity>.*` for an entity that has types.
pub fn validate_event_types(field: &str, wanted: &[String]) -> Result<Vec<String>, Error> {
    let mut checked: Vec<String> = Vec::with_capacity(wanted.len());
    for (i, w) in wanted.iter().enumerate() {
        let w = w.trim();
        let known = match w.strip_suffix(".*") {
            Some(prefix) => crate::TYPES.iter().any(|t| {
                t.kind
                    .strip_prefix(prefix)
                    .is_some_and(|r| r.starts_with('.'))
            }),
            None => crate::TYPES.iter().any(|t| t.kind == w),
        };
        if !known {
            return Err(Error::validation(
                &format!("{field}[{i}]"),
                format!(
                    "`{w}` is no event type (see GET /v1/event-types), nor `relais.<entity>.*`"
                ),
            ));
        }
        if !checked.iter().any(|c| c == w) {
            checked.push(w.to_owned());
        }
    }
    Ok(checked)
}

/// Whether a subscription to `wanted` (none: every type) receives events of type `kind`.
pub fn wants(wanted: &[String], kind: &str) -> bool {
    wanted.is_empty()
        || wanted.iter().any(|w| match w.strip_suffix('*') {
            Some(prefix) => kind.starts_with(prefix),
            None => w == kind,
        })
}

/// A new secret from 24 random bytes: `whsec_` and their base64.
pub fn new_secret(random: &[u8; 24]) -> String {
    format!("whsec_{}", STANDARD.encode(random))
}

/// The key a `whsec_` secret stands for.
fn key_of(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .ok()
}

/// One `v1,<base64>` signature of a delivery.
pub fn sign(secret: &str, id: &str, timestamp_s: i64, body: &str) -> String {
    let key = key_of(secret).unwrap_or_default();
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = Hmac::<sha2_hmac::Sha256>::new_from_slice(&key).expect("HMAC takes any key");
    mac.update(format!("{id}.{timestamp_s}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: the current secret's signature, and the previous
/// secret's while it still signs.
pub fn signature_header(
    secret: &str,
    previous: Option<(&str, Timestamp)>,
    (id, at, body): (&str, Timestamp, &str),
) -> String {
    let ts = at.unix_ms().div_euclid(1000);
    let mut header = sign(secret, id, ts, body);
    if let Some((old, until)) = previous
        && at < until
    {
        header.push(' ');
        header.push_str(&sign(old, id, ts, body));
    }
    header
}

/// What an attempt's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// The receiver is gone for good: stop delivering to it.
    Gone,
    /// Try again at this instant.
    RetryAt(Timestamp),
    /// The retry window is over: the delivery is given up and the subscription disabled.
    GiveUp,
}

/// What to do after attempt number `attempt` (1 for the first) answered `status` (`None`:
/// no answer — timeout, refused connection) at `at`.
pub fn verdict(status: Option<u16>, attempt: i64, at: Timestamp) -> Verdict {
    match status {
        Some(s) if (200..300).contains(&s) => Verdict::Delivered,
        Some(410) => Verdict::Gone,
        _ => match RETRY_DELAYS_S.get((attempt - 1).max(0) as usize) {
            Some(wait) => Verdict::RetryAt(Timestamp::from_unix_ms(at.unix_ms() + wait * 1000)),
            None => Verdict::GiveUp,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signs_as_the_standard_says() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, id, 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_rotated_secret_signs_too_until_it_expires() {
        let at = Timestamp::from_unix_ms(1_000_000);
        let later = Timestamp::from_unix_ms(2_000_000);
        let both = signature_header("whsec_AAAA", Some(("whsec_BBBB", later)), ("m", at, "{}"));
        assert_eq!(both.split(' ').count(), 2);
        let one = signature_header("whsec_AAAA", Some(("whsec_BBBB", at)), ("m", later, "{}"));
        assert_eq!(one.split(' ').count(), 1);
    }

    #[test]
    fn filters_and_urls() {
        let wanted = vec![
            "relais.order.*".to_owned(),
            "relais.hold.created".to_owned(),
        ];
        assert!(wants(&wanted, "relais.order.placed"));
        assert!(wants(&wanted, "relais.hold.created"));
        assert!(!wants(&wanted, "relais.hold.released"));
        assert!(wants(&[], "relais.hold.released"));
        assert!(validate_event_types("e", &["relais.order.*".into()]).is_ok());
        assert!(validate_event_types("e", &["relais.nothing.*".into()]).is_err());
        assert!(validate_event_types("e", &["relais.order.teleported".into()]).is_err());
        assert!(validate_url("url", "https://hooks.example.com/relais?x=1").is_ok());
        for bad in ["ftp://x", "https://", "http:// spaced", "example.com"] {
            assert!(validate_url("url", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retries_last_about_three_days_then_give_up() {
        let total: i64 = RETRY_DELAYS_S.iter().sum();
        assert!((3 * 86_400..4 * 86_400).contains(&total), "{total}");
        let at = Timestamp::from_unix_ms(0);
        assert_eq!(verdict(Some(204), 1, at), Verdict::Delivered);
        assert_eq!(verdict(Some(410), 3, at), Verdict::Gone);
        assert_eq!(verdict(Some(500), 1, at), Verdict::RetryAt(at));
        assert_eq!(
            verdict(None, 2, at),
            Verdict::RetryAt(Timestamp::from_unix_ms(5000))
        );
        let last = RETRY_DELAYS_S.len() as i64 + 1;
        assert_eq!(verdict(Some(503), last, at), Verdict::GiveUp);
    }
}
