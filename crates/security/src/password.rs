//! Password hashing (argon2id) and the weak-password check used by production config checks.

use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

/// OWASP's recommended argon2id cost (Password Storage Cheat Sheet): 19 MiB, 2 passes, 1 lane.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Minimum length accepted by [`is_weak_password`].
pub const MIN_PASSWORD_LEN: usize = 12;

/// Errors from [`hash_password`].
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The argon2 parameters were rejected (a bug in this crate, not in the input).
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    /// Hashing failed (for example the system random generator failed to produce a salt).
    #[error("password hashing failed: {0}")]
    Hash(String),
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|e| PasswordError::Params(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with argon2id (m=19456 KiB, t=2, p=1) and a random salt, as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let hash = hasher()?
        .hash_password(password.as_bytes())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Checks a password against a PHC string. Returns `false` for a wrong password and for a
/// malformed or unsupported hash. The output comparison is constant-time (done by argon2).
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // The parameters come from the stored hash, so hashes made with older costs still verify.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Burns the same time as a real [`verify_password`] call. Call it when the user does not exist,
/// so login latency does not reveal which e-mail addresses have accounts.
pub fn dummy_verify(password: &str) {
    static DUMMY_HASH: LazyLock<Option<String>> =
        LazyLock::new(|| hash_password("preflight-timing-equalizer").ok());
    if let Some(hash) = DUMMY_HASH.as_deref() {
        let _ = verify_password(password, hash);
    }
}

/// True when a stored hash uses other parameters than the current ones (or cannot be parsed), so
/// it should be replaced by a fresh [`hash_password`] after the next successful login.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || parsed.version != Some(Version::V0x13.into())
        || params.m_cost() != M_COST_KIB
        || params.t_cost() != T_COST
        || params.p_cost() != P_COST
}

/// Common and default passwords, compared case-insensitively after stripping leading and
/// trailing digits and symbols (so `Password123!` counts as `password`).
const COMMON_PASSWORDS: &[&str] = &[
    "admin",
    "administrator",
    "password",
    "passw0rd",
    "p@ssw0rd",
    "changeme",
    "change",
    "preflight",
    "secret",
    "letmein",
    "welcome",
    "qwerty",
    "qwertyuiop",
    "asdfgh",
    "asdfghjkl",
    "azerty",
    "iloveyou",
    "monkey",
    "dragon",
    "master",
    "login",
    "root",
    "toor",
    "default",
    "guest",
    "test",
    "demo",
    "example",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "trustno",
    "superman",
    "starwars",
    "whatever",
    "abc",
    "abcdef",
    "abcdefgh",
    "abcdefghijkl",
    "abcd1234",
    "qwerty123",
    "adminadmin",
    "password1",
    "passwordpassword",
    "123456789012",
    "1234567890",
    "123456",
    "111111",
    "000000",
];

/// Returns why a password is too weak for production, or `None` if it passes: shorter than
/// [`MIN_PASSWORD_LEN`] characters, a common or default password, or a single character class.
pub fn is_weak_password(password: &str) -> Option<&'static str> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Some("shorter than 12 characters");
    }
    let lower = password.to_lowercase();
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    if COMMON_PASSWORDS.contains(&lower.as_str())
        || (!core.is_empty() && COMMON_PASSWORDS.contains(&core))
        || is_repetition_of_common(core)
    {
        return Some("a common or default password");
    }
    if character_classes(password) < 2 {
        return Some(
            "uses a single character class; mix upper case, lower case, digits or symbols",
        );
    }
    None
}

/// `adminadminadmin`, `passwordpassword`: a common word repeated is no stronger than the word.
fn is_repetition_of_common(core: &str) -> bool {
    COMMON_PASSWORDS.iter().any(|word| {
        !word.is_empty()
            && core.len() > word.len()
            && core.len().is_multiple_of(word.len())
            && core
                .as_bytes()
                .chunks(word.len())
                .all(|c| c == word.as_bytes())
    })
}

fn character_classes(password: &str) -> usize {
    let mut classes = [false; 4];
    for c in password.chars() {
        let i = if c.is_lowercase() {
            0
        } else if c.is_uppercase() {
            1
        } else if c.is_numeric() {
            2
        } else {
            3
        };
        classes[i] = true;
    }
    classes.iter().filter(|&&x| x).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_phc_with_owasp_params() {
        let phc = hash_password("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!needs_rehash(&phc));
    }

    #[test]
    fn verify_accepts_right_and_rejects_wrong() {
        let phc = hash_password("correct horse battery staple").unwrap();
        assert!(verify_password("correct horse battery staple", &phc));
        assert!(!verify_password("correct horse battery stapler", &phc));
        assert!(!verify_password("", &phc));
    }

    #[test]
    fn same_password_hashes_differently() {
        let a = hash_password("same password 123").unwrap();
        let b = hash_password("same password 123").unwrap();
        assert_ne!(a, b, "salts must be random");
        assert!(verify_password("same password 123", &a));
        assert!(verify_password("same password 123", &b));
    }

    #[test]
    fn malformed_hashes_are_rejected_not_panicked_on() {
        for bad in [
            "",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$",
            "$bcrypt$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
            "$2b$12$abcdefghijklmnopqrstuv",
        ] {
            assert!(!verify_password("x", bad), "{bad}");
            assert!(needs_rehash(bad), "{bad}");
        }
    }

    #[test]
    fn older_params_verify_but_need_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        );
        let phc = weak.hash_password(b"legacy password").unwrap().to_string();
        assert!(verify_password("legacy password", &phc));
        assert!(needs_rehash(&phc));
    }

    #[test]
    fn dummy_verify_does_not_panic() {
        dummy_verify("anything");
    }

    #[test]
    fn weak_passwords() {
        assert_eq!(
            is_weak_password("Short1!"),
            Some("shorter than 12 characters")
        );
        assert_eq!(is_weak_password(""), Some("shorter than 12 characters"));
        for common in [
            "Password1234",
            "password1234!",
            "CHANGEME12345",
            "preflight2024!",
            "adminadminadmin",
            "Administrator1",
            "123456789012",
        ] {
            assert_eq!(
                is_weak_password(common),
                Some("a common or default password"),
                "{common}"
            );
        }
        for one_class in [
            "abcdefghijkmnop",
            "ABCDEFGHIJKMNOP",
            "918273645501",
            "!@#$%^&*()_+-=",
        ] {
            assert!(
                is_weak_password(one_class)
                    .unwrap()
                    .contains("single character class"),
                "{one_class}"
            );
        }
    }

    #[test]
    fn strong_passwords_pass() {
        for ok in [
            "correct horse battery staple",
            "Tr0ub4dor&3xyz",
            "n7-kq2-wzp-4hv",
        ] {
            assert_eq!(is_weak_password(ok), None, "{ok}");
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 11 characters, 22 bytes: still too short.
        assert_eq!(
            is_weak_password("ééééééééééé"),
            Some("shorter than 12 characters")
        );
    }
}
