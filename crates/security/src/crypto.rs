//! Field encryption: XChaCha20-Poly1305 with a key id in every ciphertext, so keys can rotate.
//!
//! Format: `pf1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>`, where `kid` is 16 hex characters
//! derived from the key ([`EncryptionKey::id`]) and the nonce is 24 random bytes. XChaCha's
//! 192-bit nonce makes random nonces safe for any realistic number of encryptions under one key.
//!
//! Rotation: move `ENCRYPTION_KEY` to `ENCRYPTION_KEY_PREVIOUS`, set a new `ENCRYPTION_KEY`, and
//! run `preflight rotate-encryption-key`, which calls [`Keyring::reencrypt`] on every value for
//! which [`Keyring::needs_rotation`] is true. Old values keep decrypting meanwhile.
//!
//! Associated data (`aad`): authenticated but not stored. Pass something that names where the
//! value lives, e.g. `b"api_tokens.secret:<row id>"`. Decryption then fails if a ciphertext is
//! copied to another row or column, so a database writer cannot swap encrypted values around.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Version tag at the start of every ciphertext.
const VERSION: &str = "pf1";
/// Key length in bytes (XChaCha20-Poly1305 uses 256-bit keys).
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Hex characters in a key id (8 bytes).
const KID_LEN: usize = 16;
/// Domain separation so the key id can never collide with another use of SHA-256(key).
const KID_CONTEXT: &[u8] = b"preflight-key-id:";

/// Why an encryption key could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Empty or whitespace only.
    #[error("encryption key is empty; generate 32 random bytes, e.g. `openssl rand -hex 32`")]
    Empty,
    /// Neither hex nor base64.
    #[error(
        "encryption key is neither 64 hex characters nor base64 of 32 bytes; \
         generate one with e.g. `openssl rand -hex 32`"
    )]
    Encoding,
    /// Decoded, but not to 32 bytes.
    #[error(
        "encryption key must be 32 bytes (64 hex characters or 43-44 base64 characters), \
         got {0} bytes"
    )]
    WrongLength(usize),
}

/// Why a ciphertext could not be decrypted. `Display` never includes key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// Not `pf1.<16 hex>.<base64url>` of a plausible length.
    #[error("encrypted value is malformed: {0}")]
    Malformed(&'static str),
    /// The key id is not in the keyring.
    #[error(
        "encrypted value uses unknown key id {0}; set ENCRYPTION_KEY_PREVIOUS to the key \
         that encrypted it"
    )]
    UnknownKeyId(String),
    /// Tag check failed: the value was altered, the key is wrong, or the aad does not match.
    #[error(
        "encrypted value failed authentication: it was tampered with, or the key or the \
         associated data (table/column/row) is wrong"
    )]
    AuthenticationFailed,
    /// Decrypted fine, but [`Keyring::decrypt_str`] needs UTF-8.
    #[error("decrypted value is not valid UTF-8")]
    NotUtf8,
    /// Re-encryption failed (see [`EncryptError`]).
    #[error(transparent)]
    Encrypt(#[from] EncryptError),
}

/// Why encryption failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptError {
    /// Plaintext or aad beyond the AEAD's limit (about 256 GiB); unreachable for database fields.
    #[error("value is too large to encrypt")]
    TooLarge,
}

/// A 256-bit encryption key and its id. The bytes live in a zeroize-on-drop box and never appear
/// in `Debug` output.
pub struct EncryptionKey {
    bytes: SecretBox<[u8; KEY_LEN]>,
    id: String,
}

impl Clone for EncryptionKey {
    fn clone(&self) -> Self {
        Self::from_bytes(*self.bytes.expose_secret())
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("id", &self.id)
            .field("bytes", &"[REDACTED]")
            .finish()
    }
}

impl EncryptionKey {
    /// Parses 32 bytes written as 64 hex characters or as base64 (standard or URL-safe, padded or
    /// not). Surrounding whitespace is ignored.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(KeyError::Empty);
        }
        // Hex first: hex strings are also valid base64, so `openssl rand -hex 16` would
        // otherwise be reported as "24 bytes". A real base64 key is practically never all hex.
        let decoded: Zeroizing<Vec<u8>> = if s.bytes().all(|b| b.is_ascii_hexdigit()) {
            // An odd number of hex digits fails here.
            Zeroizing::new(hex::decode(s).map_err(|_| KeyError::Encoding)?)
        } else {
            Zeroizing::new(
                [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                    .iter()
                    .find_map(|engine| engine.decode(s).ok())
                    .ok_or(KeyError::Encoding)?,
            )
        };
        let mut bytes: [u8; KEY_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrongLength(decoded.len()))?;
        let key = Self::from_bytes(bytes);
        // The array is Copy: wipe this stack copy, the key lives on in its SecretBox.
        zeroize::Zeroize::zeroize(&mut bytes);
        Ok(key)
    }

    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(KID_CONTEXT);
        hasher.update(bytes);
        let id = hex::encode(&hasher.finalize()[..KID_LEN / 2]);
        Self {
            bytes: SecretBox::new(Box::new(bytes)),
            id,
        }
    }

    /// Key id: hex of the first 8 bytes of SHA-256("preflight-key-id:" ‖ key). Deterministic, so
    /// the same key always has the same id on every replica and after restarts.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(<&Key>::from(self.bytes.expose_secret()))
    }
}

/// Generates a new random key as 64 hex characters (for development `.env` files and key rotation).
pub fn generate_key() -> String {
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    rand::rng().fill_bytes(&mut *bytes);
    hex::encode(*bytes)
}

/// The current key (encrypts) and previous keys (still decrypt during a rotation).
#[derive(Clone)]
pub struct Keyring {
    current: EncryptionKey,
    previous: Vec<EncryptionKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self
                    .previous
                    .iter()
                    .map(|k| k.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A parsed `pf1.<kid>.<payload>` value.
struct Parsed<'a> {
    kid: &'a str,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

fn parse(value: &str) -> Result<Parsed<'_>, DecryptError> {
    let mut parts = value.splitn(3, '.');
    let (Some(version), Some(kid), Some(payload)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(DecryptError::Malformed("expected pf1.<key id>.<data>"));
    };
    if version != VERSION {
        return Err(DecryptError::Malformed(
            "unknown format version (expected pf1)",
        ));
    }
    if kid.len() != KID_LEN || !kid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(DecryptError::Malformed(
            "key id is not 16 lowercase hex characters",
        ));
    }
    let raw = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| DecryptError::Malformed("data is not unpadded base64url"))?;
    if raw.len() < NONCE_LEN + TAG_LEN {
        return Err(DecryptError::Malformed("data is too short"));
    }
    let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| DecryptError::Malformed("data is too short"))?;
    Ok(Parsed {
        kid,
        nonce,
        ciphertext: ciphertext.to_vec(),
    })
}

impl Keyring {
    /// A keyring that encrypts with `current` and also decrypts with `previous`. Previous keys
    /// equal to the current one (or to each other) are dropped.
    pub fn new(current: EncryptionKey, previous: Vec<EncryptionKey>) -> Self {
        let mut kept: Vec<EncryptionKey> = Vec::with_capacity(previous.len());
        for key in previous {
            if key.id != current.id && !kept.iter().any(|k| k.id == key.id) {
                kept.push(key);
            }
        }
        Self {
            current,
            previous: kept,
        }
    }

    /// Id of the key new values are encrypted with.
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Ids of all keys that can decrypt, current first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.current.id.as_str()).chain(self.previous.iter().map(|k| k.id.as_str()))
    }

    fn key(&self, kid: &str) -> Option<&EncryptionKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == kid)
    }

    /// Encrypts `plaintext` under the current key with a fresh random nonce, binding it to `aad`
    /// (see the module docs). Two encryptions of the same value differ.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, EncryptError> {
        let (nonce, ciphertext) = self.seal(plaintext, aad)?;
        let mut raw = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&ciphertext);
        Ok(format!(
            "{VERSION}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(raw)
        ))
    }

    /// Encrypts under the current key with a fresh random nonce; returns (nonce, ciphertext).
    fn seal(
        &self,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<([u8; NONCE_LEN], Vec<u8>), EncryptError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .current
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| EncryptError::TooLarge)?;
        Ok((nonce, ciphertext))
    }

    /// Decrypts a value made by [`Keyring::encrypt`] with the same `aad`, using whichever key of
    /// the ring its key id names.
    pub fn decrypt(&self, value: &str, aad: &[u8]) -> Result<Vec<u8>, DecryptError> {
        let parsed = parse(value)?;
        let key = self
            .key(parsed.kid)
            .ok_or_else(|| DecryptError::UnknownKeyId(parsed.kid.to_owned()))?;
        key.cipher()
            .decrypt(
                &XNonce::from(parsed.nonce),
                Payload {
                    msg: &parsed.ciphertext,
                    aad,
                },
            )
            .map_err(|_| DecryptError::AuthenticationFailed)
    }

    /// Binary form of [`Keyring::encrypt`] for bulk data (backups): `kid ‖ nonce ‖ ciphertext`,
    /// without the base64 expansion of the text form.
    pub fn encrypt_bytes(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, EncryptError> {
        let (nonce, ciphertext) = self.seal(plaintext, aad)?;
        let mut raw = Vec::with_capacity(KID_LEN + NONCE_LEN + ciphertext.len());
        raw.extend_from_slice(self.current.id.as_bytes());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&ciphertext);
        Ok(raw)
    }

    /// Decrypts the output of [`Keyring::encrypt_bytes`].
    pub fn decrypt_bytes(&self, raw: &[u8], aad: &[u8]) -> Result<Vec<u8>, DecryptError> {
        if raw.len() < KID_LEN + NONCE_LEN + TAG_LEN {
            return Err(DecryptError::Malformed("data is too short"));
        }
        let (kid, rest) = raw.split_at(KID_LEN);
        let kid = std::str::from_utf8(kid)
            .map_err(|_| DecryptError::Malformed("key id is not 16 lowercase hex characters"))?;
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| DecryptError::Malformed("data is too short"))?;
        let key = self
            .key(kid)
            .ok_or_else(|| DecryptError::UnknownKeyId(kid.to_owned()))?;
        key.cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| DecryptError::AuthenticationFailed)
    }

    /// [`Keyring::encrypt`] for text.
    pub fn encrypt_str(&self, plaintext: &str, aad: &[u8]) -> Result<String, EncryptError> {
        self.encrypt(plaintext.as_bytes(), aad)
    }

    /// [`Keyring::decrypt`] for text.
    pub fn decrypt_str(&self, value: &str, aad: &[u8]) -> Result<String, DecryptError> {
        let bytes = self.decrypt(value, aad)?;
        String::from_utf8(bytes).map_err(|e| {
            // Wipe the rejected plaintext rather than dropping it as is.
            drop(Zeroizing::new(e.into_bytes()));
            DecryptError::NotUtf8
        })
    }

    /// True unless `value` is a well-formed ciphertext under the current key. Malformed values
    /// count as needing rotation so that the rotation run reports them instead of skipping them.
    pub fn needs_rotation(&self, value: &str) -> bool {
        parse(value).map_or(true, |p| p.kid != self.current.id)
    }

    /// Decrypts `value` (with any key of the ring) and encrypts it again under the current key,
    /// with a fresh nonce and the same `aad`.
    pub fn reencrypt(&self, value: &str, aad: &[u8]) -> Result<String, DecryptError> {
        let plaintext = Zeroizing::new(self.decrypt(value, aad)?);
        Ok(self.encrypt(&plaintext, aad)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_form_round_trips_and_detects_tampering() {
        let ring = Keyring::new(EncryptionKey::from_bytes([7; KEY_LEN]), vec![]);
        let mut ct = ring.encrypt_bytes(b"bulk data", b"aad").unwrap();
        assert_eq!(ring.decrypt_bytes(&ct, b"aad").unwrap(), b"bulk data");
        assert_eq!(
            ring.decrypt_bytes(&ct, b"other"),
            Err(DecryptError::AuthenticationFailed)
        );
        let last = ct.len() - 1;
        ct[last] ^= 1;
        assert_eq!(
            ring.decrypt_bytes(&ct, b"aad"),
            Err(DecryptError::AuthenticationFailed)
        );
        let other = Keyring::new(EncryptionKey::from_bytes([8; KEY_LEN]), vec![]);
        assert!(matches!(
            other.decrypt_bytes(&ring.encrypt_bytes(b"x", b"").unwrap(), b""),
            Err(DecryptError::UnknownKeyId(_))
        ));
    }

    const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn key() -> EncryptionKey {
        EncryptionKey::parse(HEX_KEY).unwrap()
    }

    fn ring() -> Keyring {
        Keyring::new(key(), vec![])
    }

    fn payload(value: &str) -> (String, Vec<u8>) {
        let (prefix, data) = value.rsplit_once('.').unwrap();
        (prefix.to_owned(), URL_SAFE_NO_PAD.decode(data).unwrap())
    }

    #[test]
    fn parse_accepts_hex_and_all_base64_flavours() {
        let raw: Vec<u8> = (0u8..32).collect();
        let id = key().id().to_owned();
        let mut forms = vec![
            HEX_KEY.to_owned(),
            HEX_KEY.to_uppercase(),
            format!("  {HEX_KEY}\n"),
        ];
        // A key whose base64 has '+' and '/' (or '-' and '_') to exercise both alphabets.
        let spicy = [0xfbu8; 32];
        let spicy_id = EncryptionKey::from_bytes(spicy).id().to_owned();
        for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
            forms.push(engine.encode(&raw));
            assert_eq!(
                EncryptionKey::parse(&engine.encode(spicy)).unwrap().id(),
                spicy_id
            );
        }
        for f in forms {
            assert_eq!(EncryptionKey::parse(&f).unwrap().id(), id, "{f:?}");
        }
    }

    #[test]
    fn parse_rejects_bad_keys_clearly() {
        assert_eq!(EncryptionKey::parse("").unwrap_err(), KeyError::Empty);
        assert_eq!(EncryptionKey::parse("   ").unwrap_err(), KeyError::Empty);
        assert_eq!(
            EncryptionKey::parse(&HEX_KEY[..62]).unwrap_err(),
            KeyError::WrongLength(31)
        );
        assert_eq!(
            EncryptionKey::parse(&HEX_KEY[..32]).unwrap_err(),
            KeyError::WrongLength(16),
            "hex must not be misread as base64"
        );
        assert_eq!(
            EncryptionKey::parse(&format!("{HEX_KEY}00")).unwrap_err(),
            KeyError::WrongLength(33)
        );
        assert_eq!(
            EncryptionKey::parse(&HEX_KEY[..63]).unwrap_err(),
            KeyError::Encoding
        );
        assert_eq!(
            EncryptionKey::parse(&STANDARD.encode([7u8; 16])).unwrap_err(),
            KeyError::WrongLength(16)
        );
        assert_eq!(
            EncryptionKey::parse(&STANDARD.encode([7u8; 64])).unwrap_err(),
            KeyError::WrongLength(64)
        );
        assert_eq!(
            EncryptionKey::parse("not a key!").unwrap_err(),
            KeyError::Encoding
        );
        let msg = EncryptionKey::parse(&STANDARD.encode([7u8; 16]))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("32 bytes") && msg.contains("got 16"), "{msg}");
    }

    #[test]
    fn key_id_is_deterministic_and_documented() {
        let mut h = Sha256::new();
        h.update(b"preflight-key-id:");
        h.update((0u8..32).collect::<Vec<_>>());
        assert_eq!(key().id(), hex::encode(&h.finalize()[..8]));
        assert_eq!(key().id().len(), 16);
        assert_ne!(
            key().id(),
            EncryptionKey::parse(&generate_key()).unwrap().id()
        );
    }

    #[test]
    fn generate_key_is_64_hex_and_parses() {
        let a = generate_key();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        EncryptionKey::parse(&a).unwrap();
        assert_ne!(a, generate_key());
    }

    #[test]
    fn debug_hides_key_bytes() {
        let k = key();
        let dbg = format!("{k:?} {:?}", Keyring::new(k.clone(), vec![k.clone()]));
        assert!(!dbg.contains("000102"), "{dbg}");
        assert!(!dbg.contains("[0, 1, 2"), "{dbg}");
        assert!(dbg.contains(k.id()));
    }

    #[test]
    fn round_trip_and_format() {
        let r = ring();
        let ct = r.encrypt(b"hunter2", b"users.totp:1").unwrap();
        assert!(ct.starts_with(&format!("pf1.{}.", key().id())), "{ct}");
        assert_eq!(r.decrypt(&ct, b"users.totp:1").unwrap(), b"hunter2");
        let (_, raw) = payload(&ct);
        assert_eq!(raw.len(), NONCE_LEN + 7 + TAG_LEN);

        let s = r.encrypt_str("héllo", b"").unwrap();
        assert_eq!(r.decrypt_str(&s, b"").unwrap(), "héllo");
        let empty = r.encrypt(b"", b"x").unwrap();
        assert_eq!(r.decrypt(&empty, b"x").unwrap(), b"");
    }

    #[test]
    fn encryptions_of_one_value_differ() {
        let r = ring();
        let a = r.encrypt(b"same", b"aad").unwrap();
        let b = r.encrypt(b"same", b"aad").unwrap();
        assert_ne!(a, b);
        assert_ne!(payload(&a).1[..NONCE_LEN], payload(&b).1[..NONCE_LEN]);
    }

    #[test]
    fn every_flipped_bit_fails_authentication() {
        let r = ring();
        let ct = r.encrypt(b"secret value", b"t.c:1").unwrap();
        let (prefix, raw) = payload(&ct);
        for i in 0..raw.len() {
            for bit in 0..8 {
                let mut bad = raw.clone();
                bad[i] ^= 1 << bit;
                let bad = format!("{prefix}.{}", URL_SAFE_NO_PAD.encode(bad));
                assert_eq!(
                    r.decrypt(&bad, b"t.c:1"),
                    Err(DecryptError::AuthenticationFailed),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn truncated_or_extended_data_fails() {
        let r = ring();
        let ct = r.encrypt(b"secret value", b"").unwrap();
        let (prefix, raw) = payload(&ct);
        let longer = format!(
            "{prefix}.{}",
            URL_SAFE_NO_PAD.encode([&raw[..], &[0]].concat())
        );
        assert_eq!(
            r.decrypt(&longer, b""),
            Err(DecryptError::AuthenticationFailed)
        );
        let shorter = format!("{prefix}.{}", URL_SAFE_NO_PAD.encode(&raw[..raw.len() - 1]));
        assert_eq!(
            r.decrypt(&shorter, b""),
            Err(DecryptError::AuthenticationFailed)
        );
        let tiny = format!(
            "{prefix}.{}",
            URL_SAFE_NO_PAD.encode(&raw[..NONCE_LEN + TAG_LEN - 1])
        );
        assert!(matches!(
            r.decrypt(&tiny, b""),
            Err(DecryptError::Malformed(_))
        ));
    }

    #[test]
    fn wrong_aad_fails() {
        let r = ring();
        let ct = r.encrypt(b"token", b"api_tokens.secret:1").unwrap();
        assert_eq!(
            r.decrypt(&ct, b"api_tokens.secret:2"),
            Err(DecryptError::AuthenticationFailed)
        );
        assert_eq!(r.decrypt(&ct, b""), Err(DecryptError::AuthenticationFailed));
    }

    #[test]
    fn wrong_key_with_forged_kid_fails_authentication() {
        let r = ring();
        let other = EncryptionKey::parse(&generate_key()).unwrap();
        let ct = Keyring::new(other, vec![]).encrypt(b"x", b"").unwrap();
        let (_, raw) = payload(&ct);
        // Relabel it with our key id: must fail on the tag, not decrypt garbage.
        let forged = format!("pf1.{}.{}", key().id(), URL_SAFE_NO_PAD.encode(raw));
        assert_eq!(
            r.decrypt(&forged, b""),
            Err(DecryptError::AuthenticationFailed)
        );
    }

    #[test]
    fn unknown_key_id_is_named() {
        let other = EncryptionKey::parse(&generate_key()).unwrap();
        let other_id = other.id().to_owned();
        let ct = Keyring::new(other, vec![]).encrypt(b"x", b"").unwrap();
        let err = ring().decrypt(&ct, b"").unwrap_err();
        assert_eq!(err, DecryptError::UnknownKeyId(other_id.clone()));
        assert!(err.to_string().contains(&other_id));
        assert!(err.to_string().contains("ENCRYPTION_KEY_PREVIOUS"));
    }

    #[test]
    fn malformed_values() {
        let r = ring();
        let good = r.encrypt(b"x", b"").unwrap();
        let (_, data) = good.rsplit_once('.').unwrap();
        let kid = key().id().to_owned();
        for bad in [
            String::new(),
            "plaintext".into(),
            "pf1".into(),
            "pf1.".into(),
            format!("pf1.{kid}"),
            format!("pf2.{kid}.{data}"),
            format!("PF1.{kid}.{data}"),
            format!("pf1.{}.{data}", kid.to_uppercase()),
            format!("pf1.{}.{data}", &kid[..15]),
            format!("pf1.{kid}.{data}="),
            format!("pf1.{kid}.{data}.extra"),
            format!(
                "pf1.{kid}.{}",
                data.replace('-', "+").replace('_', "/") + "+/"
            ),
            format!("pf1.{kid}."),
        ] {
            assert!(
                matches!(r.decrypt(&bad, b""), Err(DecryptError::Malformed(_))),
                "{bad:?}: {:?}",
                r.decrypt(&bad, b"")
            );
        }
    }

    #[test]
    fn rotation_keeps_old_values_readable_and_reencrypts_to_current() {
        let old = key();
        let old_ring = Keyring::new(old.clone(), vec![]);
        let values: Vec<(String, Vec<u8>)> = (0..20)
            .map(|i| {
                let aad = format!("t.c:{i}").into_bytes();
                (
                    old_ring
                        .encrypt(format!("value {i}").as_bytes(), &aad)
                        .unwrap(),
                    aad,
                )
            })
            .collect();

        let new = EncryptionKey::parse(&generate_key()).unwrap();
        let rotated = Keyring::new(new.clone(), vec![old.clone()]);
        assert_eq!(rotated.current_key_id(), new.id());
        assert_eq!(rotated.key_ids().collect::<Vec<_>>(), [new.id(), old.id()]);

        for (i, (ct, aad)) in values.iter().enumerate() {
            let expected = format!("value {i}").into_bytes();
            assert_eq!(rotated.decrypt(ct, aad).unwrap(), expected);
            assert!(rotated.needs_rotation(ct));
            assert!(!old_ring.needs_rotation(ct));

            let fresh = rotated.reencrypt(ct, aad).unwrap();
            assert!(fresh.starts_with(&format!("pf1.{}.", new.id())));
            assert!(!rotated.needs_rotation(&fresh));
            assert_eq!(rotated.decrypt(&fresh, aad).unwrap(), expected);
            // Once the old key is retired, only re-encrypted values remain readable.
            let retired = Keyring::new(new.clone(), vec![]);
            assert_eq!(retired.decrypt(&fresh, aad).unwrap(), expected);
            assert!(matches!(
                retired.decrypt(ct, aad),
                Err(DecryptError::UnknownKeyId(_))
            ));
            // And reencrypt still authenticates the aad.
            assert_eq!(
                rotated.reencrypt(ct, b"elsewhere"),
                Err(DecryptError::AuthenticationFailed)
            );
        }
        assert!(rotated.needs_rotation("garbage"));
    }

    #[test]
    fn keyring_drops_duplicate_previous_keys() {
        let k = key();
        let other = EncryptionKey::parse(&generate_key()).unwrap();
        let r = Keyring::new(k.clone(), vec![k.clone(), other.clone(), other.clone()]);
        assert_eq!(r.key_ids().collect::<Vec<_>>(), [k.id(), other.id()]);
    }

    #[test]
    fn decrypt_str_rejects_non_utf8() {
        let r = ring();
        let ct = r.encrypt(&[0xff, 0xfe], b"").unwrap();
        assert_eq!(r.decrypt_str(&ct, b""), Err(DecryptError::NotUtf8));
    }
}
