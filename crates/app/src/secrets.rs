//! Secrets people type — gift card PINs, console passwords — kept as argon2id hashes with a
//! random salt. Hashing is slow on purpose: callers run it on a blocking thread, never in a
//! writer command.

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use kernel::Error;

/// The argon2id hash (PHC string) of `secret`, with a fresh 16-byte salt.
pub fn hash(secret: &str) -> Result<String, Error> {
    // 16 random bytes from the system's generator, as uuid v4 draws them.
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes())
        .map_err(|e| Error::internal(format!("a secret's salt: {e}")))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("hashing a secret: {e}")))
}

/// Whether `secret` is the one `hash` was made from (a malformed hash matches nothing).
pub fn matches(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok()
    })
}

/// [`hash`] on a blocking thread.
pub async fn hash_off_thread(secret: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || hash(&secret))
        .await
        .map_err(|e| Error::internal(format!("hashing a secret: {e}")))?
}

/// [`matches`] on a blocking thread.
pub async fn matches_off_thread(secret: String, hash: String) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || matches(&secret, &hash))
        .await
        .map_err(|e| Error::internal(format!("checking a secret: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hash_matches_its_secret_only() {
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::matches("correct horse", &h));
        assert!(!super::matches("correct hors", &h));
        assert!(!super::matches("correct horse", "not a hash"));
        assert_ne!(super::hash("correct horse").unwrap(), h, "salted");
    }
}
