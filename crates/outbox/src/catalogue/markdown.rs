//! `docs/events.md`, rendered from the catalogue so that the document cannot drift from the
//! events Relais emits (a test compares the two).

use serde_json::Value;

use super::{EventType, SCHEMA_VERSION, TYPES};

const HEADER: &str = "# Events

<!-- Generated from crates/outbox/src/catalogue.rs: `RELAIS_UPDATE_DOCS=1 cargo test -p outbox`. -->

Every change Relais commits is recorded, in the same transaction, as a
[CloudEvents 1.0](https://github.com/cloudevents/spec) envelope in the outbox. Consumers read
them from `GET /v1/events`, from webhooks-style polling of that list, or from NATS JetStream
(`relais.events.<entity>.<what>`); delivery is at least once, so consumers de-duplicate on `id`.

| attribute | value |
|---|---|
| `specversion` | `1.0` |
| `id` | unique and stable (`evt_…`) |
| `source` | `/relais` |
| `type` | one of the types below |
| `subject` | the entity the event is about (see each type) |
| `time` | RFC 3339, UTC, microseconds |
| `datacontenttype` | `application/json` |
| `dataschema` | `urn:relais:event-schema:<type>:<version>`; the JSON Schema is served at `GET /v1/event-types/<type>` |
| `actor` | extension: the API key id, `system` or `demo` that caused the change |
| `data` | the payload, described by its schema |

Payloads that concern a person carry ids, never names, e-mails, phones or what was said: those
stay behind the API, where access rules and erasure apply. A change that could break a
consumer gets a new type or a new schema version; fields may be added within a version.
";

/// The whole of `docs/events.md`.
pub fn markdown() -> String {
    let mut out = String::from(HEADER);
    out.push_str(&format!(
        "\nSchema version of every type: {SCHEMA_VERSION}.\n\n## Types\n\n| type | subject | meaning |\n|---|---|---|\n"
    ));
    for t in TYPES {
        out.push_str(&format!(
            "| [`{0}`](#{1}) | {2} | {3} |\n",
            t.kind,
            t.kind.replace('.', ""),
            t.subject,
            t.description()
        ));
    }
    out.push_str("\n## Payloads\n");
    for t in TYPES {
        out.push_str(&section(t));
    }
    out
}

fn section(t: &EventType) -> String {
    let schema = t.schema();
    let mut out = format!(
        "\n### {}\n\n{} Subject: {}.\n\n| field | type | |\n|---|---|---|\n",
        t.kind,
        t.description(),
        t.subject
    );
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(props) = schema["properties"].as_object() {
        for (name, p) in props {
            let optional = if required.contains(&name.as_str()) {
                ""
            } else {
                " (optional)"
            };
            let about = p["description"].as_str().unwrap_or("").replace('\n', " ");
            out.push_str(&format!(
                "| `{name}` | {}{optional} | {about} |\n",
                type_name(p)
            ));
        }
    }
    out
}

/// A short name for a property's type: `string`, `integer`, `Location`, `array of Variant`,
/// `string or null`, `one of a, b`.
fn type_name(p: &Value) -> String {
    if let Some(r) = p["$ref"].as_str() {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    if let Some(values) = p["enum"].as_array() {
        let names: Vec<String> = values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or("?")))
            .collect();
        return format!("one of {}", names.join(", "));
    }
    if let Some(any) = p["anyOf"].as_array().or(p["oneOf"].as_array()) {
        let names: Vec<String> = any.iter().map(type_name).collect();
        return names.join(" or ");
    }
    match &p["type"] {
        Value::String(kind) if kind == "array" => format!("array of {}", type_name(&p["items"])),
        Value::String(kind) if kind == "object" && p["additionalProperties"].is_object() => {
            format!("map of {}", type_name(&p["additionalProperties"]))
        }
        Value::String(kind) => with_format(kind, p),
        Value::Array(kinds) => {
            let names: Vec<String> = kinds
                .iter()
                .filter_map(Value::as_str)
                .map(|k| {
                    if k == "array" {
                        format!("array of {}", type_name(&p["items"]))
                    } else {
                        with_format(k, p)
                    }
                })
                .collect();
            names.join(" or ")
        }
        _ => "any".to_owned(),
    }
}

fn with_format(kind: &str, p: &Value) -> String {
    match p["format"].as_str() {
        Some("date-time") if kind == "string" => "timestamp".to_owned(),
        _ => kind.to_owned(),
    }
}
