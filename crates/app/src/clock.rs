//! The instant a use case acts at. Live requests act now. The demo writes a fortnight of
//! history through the same use cases by running them inside [`as_of`]: an order placed
//! three days ago goes through the checkout every channel uses, dated three days ago.
//!
//! The instant is read where the use case starts, on the caller's task, and handed to the
//! command; the writer task never reads it.

use std::future::Future;

use kernel::Timestamp;

tokio::task_local! {
    static AS_OF: Timestamp;
}

/// Now, or the instant the enclosing [`as_of`] set.
pub fn now() -> Timestamp {
    AS_OF
        .try_with(|at| *at)
        .unwrap_or_else(|_| Timestamp::now())
}

/// Runs `work` with [`now`] answering `at`.
pub async fn as_of<F: Future>(at: Timestamp, work: F) -> F::Output {
    AS_OF.scope(at, work).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn as_of_sets_the_instant_only_inside() {
        let past = Timestamp::from_unix_ms(1_700_000_000_000);
        assert_eq!(as_of(past, async { now() }).await, past);
        assert!(now().unix_ms() > past.unix_ms());
    }
}
