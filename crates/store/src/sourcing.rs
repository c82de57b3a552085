//! Channel sourcing policies in SQL: stored per channel, defaulted per channel kind.

use catalog::Channel;
use inventory::SourcingPolicy;
use kernel::{Error, Timestamp};
use outbox::Event;
use outbox::payloads::SourcingSet;

use crate::rows;
use crate::sql::Conn;
use crate::{Db, events, params};

/// A channel's policy as it applies now: the stored one, or its kind's default.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectivePolicy {
    pub channel: Channel,
    pub policy: SourcingPolicy,
    /// `true` while the retailer has not set a policy for the channel.
    pub is_default: bool,
}

async fn stored_policy(conn: &mut Conn, channel: &str) -> Result<Option<SourcingPolicy>, Error> {
    conn.query_opt(
        "SELECT policy FROM channel_sourcing WHERE channel = $1",
        params![channel],
    )
    .await?
    .map(|row| rows::json(&row, "policy"))
    .transpose()
}

/// The channel and its policy; `not_found` for an unknown channel.
pub async fn find_policy(conn: &mut Conn, channel: &str) -> Result<EffectivePolicy, Error> {
    let found = crate::channels::find_channel(conn, channel)
        .await?
        .ok_or_else(|| Error::not_found("channel", channel))?;
    let stored = stored_policy(conn, channel).await?;
    Ok(EffectivePolicy {
        is_default: stored.is_none(),
        policy: stored.unwrap_or_else(|| SourcingPolicy::default_for(found.kind)),
        channel: found,
    })
}

pub async fn get_policy(db: &Db, channel: &str) -> Result<EffectivePolicy, Error> {
    find_policy(&mut db.read().await?, channel).await
}

/// Replaces a channel's policy; the locations it names must exist.
pub async fn set_policy(
    conn: &mut Conn,
    channel: &str,
    policy: SourcingPolicy,
    actor: &str,
) -> Result<EffectivePolicy, Error> {
    let policy = policy.validate()?;
    let found = crate::channels::find_channel(conn, channel)
        .await?
        .ok_or_else(|| Error::not_found("channel", channel))?;
    for code in policy.named_locations() {
        if crate::locations::find_location(conn, code).await?.is_none() {
            return Err(Error::unknown_reference("location", "location", code));
        }
    }
    conn.execute(
        "INSERT INTO channel_sourcing (channel, policy, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (channel) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
        params![channel, rows::to_json(&policy), Timestamp::now().to_text()],
    )
    .await?;
    let set = SourcingSet {
        channel: channel.to_owned(),
        policy,
    };
    events::emit(conn, Event::ChannelSourcingSet(&set), channel, actor).await?;
    Ok(EffectivePolicy {
        channel: found,
        policy: set.policy,
        is_default: false,
    })
}
