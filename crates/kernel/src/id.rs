//! Identifiers: a short type prefix and a UUIDv7, so ids say what they name and sort by creation.
//!
//! `prd_0192f3…` is a product, `key_…` an API key, `evt_…` an event. UUIDv7 puts the
//! millisecond timestamp first, so text order is creation order, which keyset pagination uses.

/// A new id such as `prd_01932c07a1b27c3e9f0e5d4a3b2c1d0e`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// A random secret of 32 bytes in lowercase hex (API keys, signing secrets).
pub fn new_secret_hex() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!("{}{}", a.simple(), b.simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_ordered() {
        let a = new_id("prd");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("prd");
        assert!(a.starts_with("prd_") && a.len() == 36);
        assert!(a < b);
    }

    #[test]
    fn secrets_differ() {
        assert_ne!(new_secret_hex(), new_secret_hex());
        assert_eq!(new_secret_hex().len(), 64);
    }
}
