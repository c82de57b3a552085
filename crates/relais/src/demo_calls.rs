//! How the demo writes: through the use cases of `app`, acting with the key a retailer's own
//! people and systems would use — admin for the catalogue, a channel for the orders it
//! takes, a store for what its associates do — so the demo's data is exactly what those
//! calls make. Independent calls run side by side, so they share commits.

use std::future::Future;

use app::{Principal, Scope};
use futures::{StreamExt, TryStreamExt};
use kernel::Error;
use store::StoredResponse;

/// How many independent calls run at once: enough for a commit to carry dozens.
const WIDTH: usize = 48;

/// What a use case is handed to make its answer; the demo keeps the value instead.
pub(crate) type Keep<T> = Box<dyn FnOnce(T) -> StoredResponse + Send>;

/// The demo acting with one scope (its key id is `demo`).
pub(crate) fn acting(scope: Scope) -> Principal {
    Principal {
        key_id: "demo".into(),
        scopes: vec![scope],
    }
}

/// Calls a use case and keeps the value it answers.
pub(crate) async fn kept<T, F>(call: impl FnOnce(Keep<T>) -> F) -> Result<T, Error>
where
    T: Send + 'static,
    F: Future<Output = Result<StoredResponse, Error>>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    call(Box::new(move |value| {
        let _ = tx.send(value);
        StoredResponse {
            status: 200,
            body: String::new(),
            replayed: false,
        }
    }))
    .await?;
    rx.try_recv()
        .map_err(|_| Error::internal("a demo call answered nothing"))
}

/// Runs independent calls [`WIDTH`] at a time; answers their values in order.
pub(crate) async fn side_by_side<T, F>(calls: impl IntoIterator<Item = F>) -> Result<Vec<T>, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    futures::stream::iter(calls)
        .buffered(WIDTH)
        .try_collect()
        .await
}
