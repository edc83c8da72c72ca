//! Security primitives for preflight: argon2id passwords, HS256 JWT access tokens, hashed opaque
//! tokens, field encryption with rotatable keys, and production checks for secrets.
//!
//! Pure library: no I/O, no async. Secrets are held in `secrecy` types and redacted from `Debug`.

pub mod crypto;
pub mod jwt;
pub mod password;
pub mod secret_check;
pub mod token;

pub use crypto::{DecryptError, EncryptError, EncryptionKey, KeyError, Keyring, generate_key};
pub use jwt::{AccessClaims, JwtError, JwtKeys};
pub use password::{
    PasswordError, dummy_verify, hash_password, is_weak_password, needs_rehash, verify_password,
};
pub use secret_check::check_secret;
pub use token::{
    API_TOKEN_PREFIX, GeneratedToken, REFRESH_TOKEN_PREFIX, constant_time_eq, hash_token,
    looks_like, verify_token,
};
