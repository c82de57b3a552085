//! Retention: outbox events live as long as the retailer keeps them (30 days by default) and
//! until every reader — the NATS publisher, the webhook queue, the notifier — has read them
//! and no webhook delivery still waits for one. Purged in short commands, so the writer is
//! never held for long.

use kernel::{Error, Timestamp};
use store::Db;

/// Events deleted per command.
const BATCH: i64 = 5000;

/// Purges outbox events older than `days`; answers how many went.
pub async fn purge_outbox(db: &Db, days: i64) -> Result<u64, Error> {
    let before = Timestamp::from_unix_ms(crate::clock::now().unix_ms() - days * 24 * 3_600_000);
    let mut purged = 0;
    loop {
        let n = db
            .write_background(move |c| {
                Box::pin(async move { store::feed::purge(c, before, BATCH).await })
            })
            .await?;
        purged += n;
        if (n as i64) < BATCH {
            return Ok(purged);
        }
    }
}
