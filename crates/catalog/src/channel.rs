//! Channels: where an interaction happens, and the rule that binds kiosks and POS to a store.

use kernel::{Error, Timestamp};
use serde::{Deserialize, Serialize};

use kernel::text::{bounded, code};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Web,
    App,
    Kiosk,
    Pos,
    Phone,
    Email,
    Social,
    Marketplace,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 8] = [
        ChannelKind::Web,
        ChannelKind::App,
        ChannelKind::Kiosk,
        ChannelKind::Pos,
        ChannelKind::Phone,
        ChannelKind::Email,
        ChannelKind::Social,
        ChannelKind::Marketplace,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Web => "web",
            ChannelKind::App => "app",
            ChannelKind::Kiosk => "kiosk",
            ChannelKind::Pos => "pos",
            ChannelKind::Phone => "phone",
            ChannelKind::Email => "email",
            ChannelKind::Social => "social",
            ChannelKind::Marketplace => "marketplace",
        }
    }

    pub fn parse(text: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Kiosks and POS stand inside one store.
    pub fn is_bound_to_store(self) -> bool {
        matches!(self, ChannelKind::Kiosk | ChannelKind::Pos)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    pub code: String,
    pub kind: ChannelKind,
    pub name: String,
    pub location_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Channel {
    pub code: String,
    pub kind: ChannelKind,
    pub name: String,
    pub location_code: Option<String>,
    pub created_at: Timestamp,
}

/// Channel code: 2 to 40 of `a-z 0-9 -` (`web`, `kiosk-lyon-1`).
pub fn validate_channel_code(field: &str, value: &str) -> Result<String, Error> {
    code(
        field,
        value,
        2,
        40,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
        "lower-case letters, digits or `-`",
    )
}

impl NewChannel {
    /// Checks the code and the store binding; storage then checks the store exists.
    pub fn validate(&self, now: Timestamp) -> Result<Channel, Error> {
        match (self.kind.is_bound_to_store(), &self.location_code) {
            (true, None) => {
                return Err(Error::validation(
                    "location_code",
                    format!(
                        "a `{}` channel is bound to one store: name it",
                        self.kind.as_str()
                    ),
                ));
            }
            (false, Some(_)) => {
                return Err(Error::validation(
                    "location_code",
                    format!("a `{}` channel is not bound to a store", self.kind.as_str()),
                ));
            }
            _ => {}
        }
        Ok(Channel {
            code: validate_channel_code("code", &self.code)?,
            kind: self.kind,
            name: bounded("name", &self.name, 1, 200)?,
            location_code: self.location_code.clone(),
            created_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kiosk(location: Option<&str>) -> NewChannel {
        NewChannel {
            code: "kiosk-lyon-1".into(),
            kind: ChannelKind::Kiosk,
            name: "Kiosk".into(),
            location_code: location.map(Into::into),
        }
    }

    #[test]
    fn store_binding() {
        assert!(
            kiosk(Some("LYS-BELLECOUR"))
                .validate(Timestamp::now())
                .is_ok()
        );
        assert_eq!(
            kiosk(None).validate(Timestamp::now()).unwrap_err().details["field"],
            "location_code"
        );
        let web = NewChannel {
            code: "web".into(),
            kind: ChannelKind::Web,
            name: "Web".into(),
            location_code: Some("X".into()),
        };
        assert!(web.validate(Timestamp::now()).is_err());
    }

    #[test]
    fn kinds_round_trip() {
        for k in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ChannelKind::parse("fax"), None);
    }
}
