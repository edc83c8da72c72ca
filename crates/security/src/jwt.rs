//! Short-lived JWT access tokens signed with HS256 and `SECRET_KEY`.

use std::fmt;

use chrono::{Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Clock skew tolerated on `exp` and `nbf`, in seconds. Kept small because tokens are short-lived.
pub const LEEWAY_SECS: u64 = 5;

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: Uuid,
    /// The user's role (admin, editor, viewer) at issue time.
    pub role: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not valid before (Unix seconds).
    pub nbf: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Unique token id.
    pub jti: Uuid,
    /// The refresh-token session this token belongs to, so logout can revoke it early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// The user's email at issue time, for audit labels without a database round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Why a token was not issued or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// `exp` is in the past.
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token is not valid yet")]
    NotYetValid,
    /// The signature does not match (tampered token or another key).
    #[error("token signature is invalid")]
    InvalidSignature,
    /// The header names an algorithm other than HS256 (including `none`).
    #[error("token algorithm is not accepted (only HS256 is)")]
    InvalidAlgorithm,
    /// `iss` is not ours.
    #[error("token issuer is not accepted")]
    InvalidIssuer,
    /// `aud` is not ours.
    #[error("token audience is not accepted")]
    InvalidAudience,
    /// A required claim is absent or has the wrong type.
    #[error("token claim `{0}` is missing or invalid")]
    InvalidClaim(String),
    /// Not a well-formed JWT (bad base64, bad JSON, wrong number of parts, unknown algorithm).
    #[error("token is malformed")]
    Malformed,
    /// Signing failed.
    #[error("token could not be signed: {0}")]
    Signing(String),
}

impl From<jsonwebtoken::errors::Error> for JwtError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        match e.kind() {
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidSignature => Self::InvalidSignature,
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::UnsupportedAlgorithm
            | ErrorKind::MissingAlgorithm => Self::InvalidAlgorithm,
            ErrorKind::InvalidIssuer => Self::InvalidIssuer,
            ErrorKind::InvalidAudience => Self::InvalidAudience,
            ErrorKind::MissingRequiredClaim(c) | ErrorKind::InvalidClaimFormat(c) => {
                Self::InvalidClaim(c.clone())
            }
            ErrorKind::Signing(m) | ErrorKind::Provider(m) => Self::Signing(m.clone()),
            _ => Self::Malformed,
        }
    }
}

/// Signs and verifies access tokens. Cheap to share behind an `Arc`; the secret never appears in
/// `Debug` output.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeys")
            .field("secret", &"[REDACTED]")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl JwtKeys {
    /// Keys for HS256 with `secret`; tokens carry `issuer` / `audience` and live for `ttl`.
    /// The secret's strength is checked by the config layer (see [`crate::check_secret`]).
    pub fn new(
        secret: &SecretString,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        let issuer = issuer.into();
        let audience = audience.into();
        let bytes = secret.expose_secret().as_bytes();

        // Pin the algorithm: the header's `alg` is attacker-controlled, so HS384/HS512, RS256
        // (key-confusion) and `none` are all refused before any signature check.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);

        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            issuer,
            audience,
            ttl,
        }
    }

    /// Token lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a token for `subject` with `role`, optionally tied to a refresh-token `session`.
    /// Returns the token and its lifetime in seconds (the `expires_in` of the login response).
    pub fn issue(
        &self,
        subject: Uuid,
        role: &str,
        session: Option<Uuid>,
    ) -> Result<(String, i64), JwtError> {
        self.issue_at(Utc::now().timestamp(), subject, role, session, None)
    }

    /// Like [`JwtKeys::issue`], also carrying the user's email.
    pub fn issue_with_email(
        &self,
        subject: Uuid,
        role: &str,
        email: &str,
        session: Option<Uuid>,
    ) -> Result<(String, i64), JwtError> {
        self.issue_at(Utc::now().timestamp(), subject, role, session, Some(email))
    }

    fn issue_at(
        &self,
        now: i64,
        subject: Uuid,
        role: &str,
        session: Option<Uuid>,
        email: Option<&str>,
    ) -> Result<(String, i64), JwtError> {
        let expires_in = self.ttl.num_seconds();
        let claims = AccessClaims {
            sub: subject,
            role: role.to_owned(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(expires_in),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: Uuid::new_v4(),
            sid: session,
            email: email.map(str::to_owned),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, expires_in))
    }

    /// Verifies signature (HS256 only), `exp`, `nbf` (with [`LEEWAY_SECS`]), `iss`, `aud` and
    /// the presence of every claim, and returns the claims.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, JwtError> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)?;
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    const SECRET: &str = "test-signing-key-0123456789abcdef0123456789abcdef";

    fn keys() -> JwtKeys {
        JwtKeys::new(
            &SecretString::from(SECRET),
            "preflight",
            "preflight-api",
            Duration::minutes(15),
        )
    }

    /// Builds a token by hand from a raw JSON header, so it can claim any `alg`; the signature
    /// (if any) is HMAC-SHA256 with the real secret, as an attacker who knew it would make.
    fn forge(header_json: &str, claims: &serde_json::Value, signed: bool) -> String {
        let header = B64.encode(header_json);
        let payload = B64.encode(claims.to_string());
        let signing_input = format!("{header}.{payload}");
        let sig = if signed {
            jsonwebtoken::crypto::sign(
                signing_input.as_bytes(),
                &EncodingKey::from_secret(SECRET.as_bytes()),
                Algorithm::HS256,
            )
            .unwrap()
        } else {
            String::new()
        };
        format!("{signing_input}.{sig}")
    }

    fn valid_claims() -> serde_json::Value {
        let now = Utc::now().timestamp();
        serde_json::json!({
            "sub": Uuid::new_v4(), "role": "admin", "iat": now, "nbf": now, "exp": now + 600,
            "iss": "preflight", "aud": "preflight-api", "jti": Uuid::new_v4(),
        })
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let user = Uuid::new_v4();
        let session = Uuid::new_v4();
        let (token, expires_in) = k.issue(user, "editor", Some(session)).unwrap();
        assert_eq!(expires_in, 900);
        let c = k.verify(&token).unwrap();
        assert_eq!(c.sub, user);
        assert_eq!(c.role, "editor");
        assert_eq!(c.sid, Some(session));
        assert_eq!(c.iss, "preflight");
        assert_eq!(c.aud, "preflight-api");
        assert_eq!(c.exp - c.iat, 900);
        assert_eq!(c.nbf, c.iat);
    }

    #[test]
    fn session_is_optional_and_jti_unique() {
        let k = keys();
        let user = Uuid::new_v4();
        let (a, _) = k.issue(user, "viewer", None).unwrap();
        let (b, _) = k.issue(user, "viewer", None).unwrap();
        let (a, b) = (k.verify(&a).unwrap(), k.verify(&b).unwrap());
        assert_eq!(a.sid, None);
        assert_ne!(a.jti, b.jti);
    }

    #[test]
    fn hand_forged_hs256_token_verifies() {
        // Sanity check for `forge`, so the rejections below are due to what they change.
        let token = forge(r#"{"alg":"HS256","typ":"JWT"}"#, &valid_claims(), true);
        keys().verify(&token).unwrap();
    }

    #[test]
    fn rejects_expired() {
        let k = keys();
        let (token, _) = k
            .issue_at(
                Utc::now().timestamp() - 3600,
                Uuid::new_v4(),
                "admin",
                None,
                None,
            )
            .unwrap();
        assert_eq!(k.verify(&token), Err(JwtError::Expired));
    }

    #[test]
    fn expiry_within_leeway_is_accepted() {
        let k = keys();
        let (token, _) = k
            .issue_at(
                Utc::now().timestamp() - 900 - 1,
                Uuid::new_v4(),
                "admin",
                None,
                None,
            )
            .unwrap();
        k.verify(&token).unwrap();
    }

    #[test]
    fn rejects_not_yet_valid() {
        let k = keys();
        let (token, _) = k
            .issue_at(
                Utc::now().timestamp() + 300,
                Uuid::new_v4(),
                "admin",
                None,
                None,
            )
            .unwrap();
        assert_eq!(k.verify(&token), Err(JwtError::NotYetValid));
    }

    #[test]
    fn rejects_tampered_payload() {
        let k = keys();
        let (token, _) = k.issue(Uuid::new_v4(), "viewer", None).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        claims["role"] = "admin".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(claims.to_string()),
            parts[2]
        );
        assert_eq!(k.verify(&forged), Err(JwtError::InvalidSignature));
    }

    #[test]
    fn rejects_tampered_signature() {
        let k = keys();
        let (token, _) = k.issue(Uuid::new_v4(), "viewer", None).unwrap();
        let (rest, sig) = token.rsplit_once('.').unwrap();
        let mut sig = B64.decode(sig).unwrap();
        sig[0] ^= 1;
        let forged = format!("{rest}.{}", B64.encode(sig));
        assert_eq!(k.verify(&forged), Err(JwtError::InvalidSignature));
    }

    #[test]
    fn rejects_wrong_key() {
        let other = JwtKeys::new(
            &SecretString::from("another-signing-key-0123456789abcdef0123456789"),
            "preflight",
            "preflight-api",
            Duration::minutes(15),
        );
        let (token, _) = other.issue(Uuid::new_v4(), "admin", None).unwrap();
        assert_eq!(keys().verify(&token), Err(JwtError::InvalidSignature));
    }

    #[test]
    fn rejects_alg_none() {
        let k = keys();
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"None","typ":"JWT"}"#,
            r#"{"alg":"NONE"}"#,
        ] {
            let unsigned = forge(header, &valid_claims(), false);
            assert!(k.verify(&unsigned).is_err(), "{header}");
            let signed = forge(header, &valid_claims(), true);
            assert!(k.verify(&signed).is_err(), "{header}");
        }
    }

    #[test]
    fn rejects_other_algorithms() {
        let k = keys();
        // Really signed with HS512 and the right secret: still refused (algorithm pinning).
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &valid_claims(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(k.verify(&hs512), Err(JwtError::InvalidAlgorithm));
        // Labelled RS256 but HMAC-signed with the secret (the classic key-confusion attack).
        for alg in ["RS256", "HS384", "HS512", "ES256", "EdDSA", "PS256"] {
            let token = forge(
                &format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#),
                &valid_claims(),
                true,
            );
            assert_eq!(k.verify(&token), Err(JwtError::InvalidAlgorithm), "{alg}");
        }
    }

    #[test]
    fn rejects_wrong_issuer_and_audience() {
        let k = keys();
        let mut claims = valid_claims();
        claims["iss"] = "someone-else".into();
        let token = forge(r#"{"alg":"HS256"}"#, &claims, true);
        assert_eq!(k.verify(&token), Err(JwtError::InvalidIssuer));

        let mut claims = valid_claims();
        claims["aud"] = "another-api".into();
        let token = forge(r#"{"alg":"HS256"}"#, &claims, true);
        assert_eq!(k.verify(&token), Err(JwtError::InvalidAudience));

        // Same secret, other issuer/audience configured.
        let other = JwtKeys::new(
            &SecretString::from(SECRET),
            "preflight",
            "other-audience",
            Duration::minutes(15),
        );
        let (token, _) = other.issue(Uuid::new_v4(), "admin", None).unwrap();
        assert_eq!(k.verify(&token), Err(JwtError::InvalidAudience));
    }

    #[test]
    fn rejects_missing_claims() {
        let k = keys();
        for claim in ["exp", "nbf", "iss", "aud", "sub", "role", "jti", "iat"] {
            let mut claims = valid_claims();
            claims.as_object_mut().unwrap().remove(claim);
            let token = forge(r#"{"alg":"HS256"}"#, &claims, true);
            let err = k.verify(&token).unwrap_err();
            assert!(
                matches!(err, JwtError::InvalidClaim(_) | JwtError::Malformed),
                "{claim}: {err:?}"
            );
        }
    }

    #[test]
    fn rejects_garbage() {
        let k = keys();
        for t in [
            "",
            "abc",
            "a.b",
            "a.b.c",
            "a.b.c.d",
            "....",
            "eyJhbGciOiJIUzI1NiJ9...",
        ] {
            assert!(k.verify(t).is_err(), "{t}");
        }
    }

    #[test]
    fn debug_hides_secret() {
        let dbg = format!("{:?}", keys());
        assert!(!dbg.contains(SECRET));
        assert!(dbg.contains("REDACTED"));
    }
}
