//! Events: every state change is recorded as a CloudEvents 1.0 envelope in the outbox.
//!
//! What each event type means and carries is in [`catalogue`]: an event can only be made from
//! a [`catalogue::Event`], whose payload types ([`payloads`] and domain values) generate the
//! JSON Schema each envelope names in `dataschema`.
//!
//! The envelope is written in the same transaction as the change it describes, so an event
//! exists if and only if the change committed. Delivery (webhooks, NATS JetStream, SSE) reads
//! the outbox later and may deliver more than once; consumers de-duplicate on the stable `id`.

use kernel::{Timestamp, id::new_id};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod catalogue;
pub mod payloads;
pub mod webhooks;

pub use catalogue::{Event, EventType, TYPES};

/// The CloudEvents `source` of events produced by Relais.
pub const SOURCE: &str = "/relais";

/// A CloudEvents 1.0 event in its structured JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub specversion: String,
    /// Stable and unique: consumers de-duplicate on it.
    pub id: String,
    pub source: String,
    /// `relais.<entity>.<what happened>`, e.g. `relais.product.created`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The entity the event is about (a product id, a SKU, a location code).
    pub subject: String,
    pub time: Timestamp,
    pub datacontenttype: String,
    /// The schema of `data` for this type and version (see `GET /v1/event-types/{type}`).
    /// Absent on events recorded before the catalogue existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataschema: Option<String>,
    /// Extension attribute: who caused the change (an API key id, `system`, `demo`).
    pub actor: String,
    pub data: Value,
}

impl CloudEvent {
    /// The envelope of `event`, about `subject`, caused by `actor`.
    pub fn of(
        event: &Event<'_>,
        subject: &str,
        actor: &str,
    ) -> Result<CloudEvent, serde_json::Error> {
        let kind = event.kind();
        Ok(CloudEvent {
            specversion: "1.0".into(),
            id: new_id("evt"),
            source: SOURCE.into(),
            kind: kind.into(),
            subject: subject.into(),
            time: Timestamp::now(),
            datacontenttype: "application/json".into(),
            dataschema: Some(catalogue::dataschema(kind)),
            actor: actor.into(),
            data: event.data()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_the_required_attributes() {
        let key = payloads::KeyRevoked { id: "key_1".into() };
        let e = CloudEvent::of(&Event::ApiKeyRevoked(&key), "key_1", "key_0").unwrap();
        let json = serde_json::to_value(&e).unwrap();
        for attr in [
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "subject",
            "datacontenttype",
            "dataschema",
            "data",
        ] {
            assert!(json.get(attr).is_some(), "missing {attr}");
        }
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "relais.api_key.revoked");
        let back: CloudEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }
}
