//! Consent: an append-only log of what a customer agreed to, and the one check every feature
//! asks before using their data.
//!
//! A record says: purpose, granted / denied / withdrawn, on which channel (or every channel),
//! how it was collected, where, under which version of the notice, with what evidence, when.
//! Records are never edited; the current state is their projection. **The last applicable
//! record wins**: for purpose P on channel C, the latest record for P that names C or names no
//! channel. No record means no consent (opt-in). Withdrawing is one record, like granting,
//! and the next check already refuses.

use kernel::Timestamp;
use serde::{Deserialize, Serialize};

/// What personal data may be used for.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    EmailMarketing,
    SmsMarketing,
    Push,
    Personalisation,
    Analytics,
    Profiling,
    /// Lets every store (not only the home store) see the customer's service history.
    ServiceHistorySharing,
}

impl Purpose {
    pub const ALL: [Purpose; 7] = [
        Purpose::EmailMarketing,
        Purpose::SmsMarketing,
        Purpose::Push,
        Purpose::Personalisation,
        Purpose::Analytics,
        Purpose::Profiling,
        Purpose::ServiceHistorySharing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::EmailMarketing => "email_marketing",
            Purpose::SmsMarketing => "sms_marketing",
            Purpose::Push => "push",
            Purpose::Personalisation => "personalisation",
            Purpose::Analytics => "analytics",
            Purpose::Profiling => "profiling",
            Purpose::ServiceHistorySharing => "service_history_sharing",
        }
    }

    pub fn parse(text: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// The answer a record gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    Granted,
    Denied,
    Withdrawn,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentStatus::Granted => "granted",
            ConsentStatus::Denied => "denied",
            ConsentStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<ConsentStatus> {
        [
            ConsentStatus::Granted,
            ConsentStatus::Denied,
            ConsentStatus::Withdrawn,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// How the answer was collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CollectionMethod {
    WebForm,
    AppSettings,
    Pos,
    Kiosk,
    Phone,
    EmailLink,
    Paper,
    Import,
}

impl CollectionMethod {
    pub const ALL: [CollectionMethod; 8] = [
        CollectionMethod::WebForm,
        CollectionMethod::AppSettings,
        CollectionMethod::Pos,
        CollectionMethod::Kiosk,
        CollectionMethod::Phone,
        CollectionMethod::EmailLink,
        CollectionMethod::Paper,
        CollectionMethod::Import,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CollectionMethod::WebForm => "web_form",
            CollectionMethod::AppSettings => "app_settings",
            CollectionMethod::Pos => "pos",
            CollectionMethod::Kiosk => "kiosk",
            CollectionMethod::Phone => "phone",
            CollectionMethod::EmailLink => "email_link",
            CollectionMethod::Paper => "paper",
            CollectionMethod::Import => "import",
        }
    }

    pub fn parse(text: &str) -> Option<CollectionMethod> {
        CollectionMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

/// Proof of the answer: the request that carried it, the associate who took it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Evidence {
    pub request_id: Option<String>,
    pub staff_id: Option<String>,
}

/// One consent record, as appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConsentRecord {
    pub id: String,
    pub customer_id: String,
    pub purpose: Purpose,
    pub status: ConsentStatus,
    /// The channel the answer is for; `None`: every channel.
    pub channel: Option<String>,
    pub method: CollectionMethod,
    /// The store or touchpoint where it was collected.
    pub location_code: Option<String>,
    /// The version of the privacy notice the customer was shown.
    pub notice_version: String,
    pub evidence: Evidence,
    pub recorded_at: Timestamp,
}

/// The answer to "may purpose P be used on channel C for this profile?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentDecision {
    pub allowed: bool,
    /// The record that decided, if any; none means no consent was ever given.
    pub record_id: Option<String>,
    pub status: Option<ConsentStatus>,
}

/// Decides from the records of one profile, in the order they were appended.
pub fn may_use(records: &[ConsentRecord], purpose: Purpose, channel: &str) -> ConsentDecision {
    let decisive = records
        .iter()
        .rev()
        .find(|r| r.purpose == purpose && r.channel.as_deref().is_none_or(|c| c == channel));
    ConsentDecision {
        allowed: decisive.is_some_and(|r| r.status == ConsentStatus::Granted),
        record_id: decisive.map(|r| r.id.clone()),
        status: decisive.map(|r| r.status),
    }
}

/// The current state: the last record per (purpose, channel scope), purposes in order.
pub fn current(records: &[ConsentRecord]) -> Vec<&ConsentRecord> {
    let mut latest: Vec<&ConsentRecord> = Vec::new();
    for r in records {
        match latest
            .iter_mut()
            .find(|l| l.purpose == r.purpose && l.channel == r.channel)
        {
            Some(slot) => *slot = r,
            None => latest.push(r),
        }
    }
    latest.sort_by(|a, b| (a.purpose, &a.channel).cmp(&(b.purpose, &b.channel)));
    latest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        n: u32,
        purpose: Purpose,
        status: ConsentStatus,
        channel: Option<&str>,
    ) -> ConsentRecord {
        ConsentRecord {
            id: format!("cns_{n}"),
            customer_id: "cus_1".into(),
            purpose,
            status,
            channel: channel.map(str::to_owned),
            method: CollectionMethod::WebForm,
            location_code: None,
            notice_version: "2026-09".into(),
            evidence: Evidence::default(),
            recorded_at: Timestamp::from_unix_ms(1_700_000_000_000 + n as i64),
        }
    }

    #[test]
    fn no_record_is_no_consent() {
        let d = may_use(&[], Purpose::EmailMarketing, "web");
        assert!(!d.allowed);
        assert_eq!(d.record_id, None);
    }

    #[test]
    fn a_withdrawal_refuses_at_once_and_a_new_grant_allows_again() {
        use ConsentStatus::*;
        let mut log = vec![record(1, Purpose::EmailMarketing, Granted, None)];
        assert!(may_use(&log, Purpose::EmailMarketing, "web").allowed);
        log.push(record(2, Purpose::EmailMarketing, Withdrawn, None));
        let d = may_use(&log, Purpose::EmailMarketing, "app");
        assert!(!d.allowed);
        assert_eq!(d.record_id.as_deref(), Some("cns_2"));
        log.push(record(3, Purpose::EmailMarketing, Granted, Some("app")));
        assert!(may_use(&log, Purpose::EmailMarketing, "app").allowed);
        assert!(!may_use(&log, Purpose::EmailMarketing, "web").allowed);
        // Other purposes are untouched.
        assert!(!may_use(&log, Purpose::SmsMarketing, "app").allowed);
    }

    #[test]
    fn the_last_applicable_record_wins_between_global_and_channel_records() {
        use ConsentStatus::*;
        let log = vec![
            record(1, Purpose::Push, Granted, Some("app")),
            record(2, Purpose::Push, Denied, None),
        ];
        assert!(!may_use(&log, Purpose::Push, "app").allowed);
        let cur = current(&log);
        assert_eq!(cur.len(), 2);
    }

    #[test]
    fn current_keeps_the_latest_per_scope() {
        use ConsentStatus::*;
        let log = vec![
            record(1, Purpose::Analytics, Granted, None),
            record(2, Purpose::Analytics, Withdrawn, None),
            record(3, Purpose::EmailMarketing, Granted, Some("web")),
        ];
        let cur: Vec<&str> = current(&log).iter().map(|r| r.id.as_str()).collect();
        assert_eq!(cur, vec!["cns_3", "cns_2"]);
    }

    #[test]
    fn words_round_trip() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Some(p));
        }
        for m in CollectionMethod::ALL {
            assert_eq!(CollectionMethod::parse(m.as_str()), Some(m));
        }
    }
}
