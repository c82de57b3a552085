//! Availability as a channel sees it: the locations its sourcing policy lets it promise
//! from (per fulfilment), the ATP it may promise there (its channel safety stock kept back),
//! and a kiosk's or till's own store first.

use std::sync::Arc;

use inventory::sourcing::Site;
use inventory::{Fulfilment, Level};
use kernel::{Error, ErrorCode};
use store::sourcing::EffectivePolicy;

use crate::access::{self, Principal};
use crate::reference::Reference;

/// A channel's view of stock: which locations it may promise from and what it keeps back.
pub struct ChannelView {
    effective: Arc<EffectivePolicy>,
    fulfilment: Option<Fulfilment>,
}

impl ChannelView {
    /// The view of the channel a request names (or the key's own channel); `None` for staff
    /// and stores reading the books without a channel.
    pub async fn resolve(
        reference: &Reference,
        p: &Principal,
        channel: Option<String>,
        fulfilment: Option<Fulfilment>,
    ) -> Result<Option<ChannelView>, Error> {
        let Some(channel) = access::promising_channel(p, channel)? else {
            if fulfilment.is_some() {
                return Err(
                    Error::new(ErrorCode::InvalidQuery, "fulfilment needs a channel")
                        .with("field", "fulfilment"),
                );
            }
            return Ok(None);
        };
        let effective = reference.policy(&channel).await.map_err(|e| {
            if e.code == ErrorCode::NotFound {
                Error::new(ErrorCode::InvalidQuery, format!("no channel `{channel}`"))
                    .with("field", "channel")
            } else {
                e
            }
        })?;
        Ok(Some(ChannelView {
            effective,
            fulfilment,
        }))
    }

    pub fn code(&self) -> &str {
        &self.effective.channel.code
    }

    /// Whether the channel may promise stock at `l` (for the view's fulfilment, if any).
    pub fn allows(&self, l: &catalog::Location) -> bool {
        let site = Site {
            code: &l.code,
            kind: l.kind,
            capabilities: &l.capabilities,
            active: l.active,
        };
        self.effective.policy.allows(site, self.fulfilment)
    }

    /// What the channel may promise of `level` at `location`.
    pub fn atp(&self, location: &str, level: Level) -> i64 {
        self.effective.policy.channel_atp(location, level)
    }

    /// The store a kiosk or POS stands in, when its policy lists it first.
    pub fn own_store(&self) -> Option<&str> {
        let policy = &self.effective.policy;
        policy
            .own_store_first
            .then_some(self.effective.channel.location_code.as_deref())
            .flatten()
    }
}
