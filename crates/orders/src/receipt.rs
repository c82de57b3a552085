//! E-receipts: every order gets a token that any store and any channel accepts, printed as a
//! QR code.
//!
//! The token proves possession of the receipt, like the paper one, so it is never derived
//! from the order number: it is a UUIDv7 of its own (`kernel::id::new_id("rcp")`) — 74
//! random bits, not guessable, after a timestamp that keeps its index append-only. The QR
//! payload is a short URI any scanner app
//! displays legibly: `relais:receipt:<token>`; a till scanning it gets the token back with
//! [`token_from_qr`], and a typed token is accepted as well.

/// The prefix of an e-receipt token.
pub const TOKEN_PREFIX: &str = "rcp_";
const QR_SCHEME: &str = "relais:receipt:";

/// A new e-receipt token.
pub fn new_token() -> String {
    kernel::id::new_id(TOKEN_PREFIX.trim_end_matches('_'))
}

/// What the QR code on the receipt encodes.
pub fn qr_payload(token: &str) -> String {
    format!("{QR_SCHEME}{token}")
}

/// The token in a scanned QR payload or a typed token; `None` if it is neither.
pub fn token_from_qr(scanned: &str) -> Option<String> {
    let scanned = scanned.trim();
    let token = scanned.strip_prefix(QR_SCHEME).unwrap_or(scanned);
    let hex = token.strip_prefix(TOKEN_PREFIX)?;
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("{TOKEN_PREFIX}{}", hex.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scanned_or_typed_token_reads_back() {
        let token = new_token();
        assert_eq!(token.len(), 36);
        assert_eq!(
            token_from_qr(&qr_payload(&token)).as_deref(),
            Some(token.as_str())
        );
        assert_eq!(
            token_from_qr(&token.to_uppercase().replace("RCP_", "rcp_")).as_deref(),
            Some(token.as_str())
        );
        assert_eq!(token_from_qr("relais:receipt:rcp_zz"), None);
        assert_eq!(token_from_qr("ord_0193"), None);
    }
}
