//! Events: every state change is recorded as a CloudEvents 1.0 envelope in the outbox.
//!
//! The envelope is written in the same transaction as the change it describes, so an event
//! exists if and only if the change committed. Delivery (webhooks, NATS JetStream, SSE) reads
//! the outbox later and may deliver more than once; consumers de-duplicate on the stable `id`.

use kernel::{Timestamp, id::new_id};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// Extension attribute: who caused the change (an API key id, `system`, `demo`).
    pub actor: String,
    pub data: Value,
}

impl CloudEvent {
    pub fn new(kind: &str, subject: &str, actor: &str, data: Value) -> CloudEvent {
        CloudEvent {
            specversion: "1.0".into(),
            id: new_id("evt"),
            source: SOURCE.into(),
            kind: kind.into(),
            subject: subject.into(),
            time: Timestamp::now(),
            datacontenttype: "application/json".into(),
            actor: actor.into(),
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_the_required_attributes() {
        let e = CloudEvent::new(
            "relais.product.created",
            "prd_1",
            "key_1",
            serde_json::json!({"id": "prd_1"}),
        );
        let json = serde_json::to_value(&e).unwrap();
        for attr in [
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "subject",
            "datacontenttype",
            "data",
        ] {
            assert!(json.get(attr).is_some(), "missing {attr}");
        }
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "relais.product.created");
        let back: CloudEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }
}
