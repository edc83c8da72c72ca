//! Opaque bearer tokens: refresh tokens (`pfr_…`) and personal API tokens (`pfa_…`).
//!
//! The plaintext is shown to the client once; the database stores only [`hash_token`] of it and
//! looks tokens up by that hash.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of refresh tokens.
pub const REFRESH_TOKEN_PREFIX: &str = "pfr_";
/// Prefix of personal API tokens.
pub const API_TOKEN_PREFIX: &str = "pfa_";

/// Random bytes per token: 256 bits, beyond any guessing or brute force.
const TOKEN_BYTES: usize = 32;
/// Length of the unpadded base64url encoding of [`TOKEN_BYTES`].
const TOKEN_B64_LEN: usize = 43;

/// A freshly generated token: give `plaintext` to the client, store `hash`.
#[derive(Debug, Clone)]
pub struct GeneratedToken {
    /// `prefix` + base64url (unpadded) of 32 random bytes. Shown once, never stored.
    pub plaintext: SecretString,
    /// Hex SHA-256 of the plaintext, the value to store and look up.
    pub hash: String,
}

/// Generates a token with `prefix` (e.g. [`REFRESH_TOKEN_PREFIX`]) from the OS-seeded CSPRNG.
/// The prefix lets secret scanners and humans recognise a leaked token and its kind.
pub fn generate(prefix: &str) -> GeneratedToken {
    let mut bytes = zeroize::Zeroizing::new([0u8; TOKEN_BYTES]);
    rand::rng().fill_bytes(bytes.as_mut());
    let plaintext = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes.as_ref()));
    let hash = hash_token(&plaintext);
    GeneratedToken {
        plaintext: SecretString::from(plaintext),
        hash,
    }
}

/// Hex SHA-256 of a token, for storage and lookup.
///
/// A fast hash is right here, unlike for passwords: a slow KDF only helps when the input has
/// little entropy and can be guessed. These tokens carry 256 random bits, so inverting the
/// hash is infeasible at any speed, and a fast, unsalted, deterministic hash lets the
/// database find a token by an indexed equality lookup on every request.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// True if `token` has the shape of a token made by [`generate`] with `prefix`: the prefix
/// followed by exactly 43 base64url characters. A cheap check before any database lookup.
pub fn looks_like(prefix: &str, token: &str) -> bool {
    token.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == TOKEN_B64_LEN
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && URL_SAFE_NO_PAD
                .decode(rest)
                .is_ok_and(|b| b.len() == TOKEN_BYTES)
    })
}

/// True if `token` hashes to `stored_hash`, compared in constant time. Useful when a token is
/// checked against a known hash rather than found by hash (e.g. `METRICS_TOKEN`).
pub fn verify_token(token: &str, stored_hash: &str) -> bool {
    constant_time_eq(hash_token(token).as_bytes(), stored_hash.as_bytes())
}

/// Constant-time byte comparison (the length may leak, the contents do not).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn generated_tokens_have_prefix_shape_and_hash() {
        let t = generate(REFRESH_TOKEN_PREFIX);
        let plain = t.plaintext.expose_secret();
        assert!(plain.starts_with("pfr_"));
        assert_eq!(plain.len(), 4 + 43);
        assert!(looks_like(REFRESH_TOKEN_PREFIX, plain));
        assert!(!looks_like(API_TOKEN_PREFIX, plain));
        assert_eq!(t.hash, hash_token(plain));
        assert_eq!(t.hash.len(), 64);
        assert!(verify_token(plain, &t.hash));
    }

    #[test]
    fn tokens_are_unique() {
        let a = generate(API_TOKEN_PREFIX);
        let b = generate(API_TOKEN_PREFIX);
        assert_ne!(a.plaintext.expose_secret(), b.plaintext.expose_secret());
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn looks_like_rejects_wrong_shapes() {
        let t = generate(API_TOKEN_PREFIX);
        let plain = t.plaintext.expose_secret();
        assert!(!looks_like("pfa_", ""));
        assert!(!looks_like("pfa_", "pfa_"));
        assert!(!looks_like("pfa_", &plain[..plain.len() - 1]));
        assert!(!looks_like("pfa_", &format!("{plain}A")));
        assert!(!looks_like("pfa_", &plain.replace("pfa_", "PFA_")));
        assert!(!looks_like("pfa_", &format!("pfa_{}", "+".repeat(43))));
        assert!(!looks_like("pfa_", &format!("pfa_{}", "=".repeat(43))));
        // Non-canonical final character (trailing bits set) is not something we generated.
        assert!(!looks_like("pfa_", &format!("pfa_{}B", "A".repeat(42))));
        assert!(looks_like("pfa_", &format!("pfa_{}", "A".repeat(43))));
    }

    #[test]
    fn verify_token_rejects_others() {
        let t = generate(API_TOKEN_PREFIX);
        assert!(!verify_token("pfa_nope", &t.hash));
        assert!(!verify_token(t.plaintext.expose_secret(), ""));
        assert!(!verify_token(
            t.plaintext.expose_secret(),
            &t.hash.to_uppercase()
        ));
    }

    #[test]
    fn debug_hides_plaintext() {
        let t = generate(REFRESH_TOKEN_PREFIX);
        let dbg = format!("{t:?}");
        assert!(!dbg.contains(t.plaintext.expose_secret()));
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
