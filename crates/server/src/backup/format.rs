//! The backup file: a small header, then the compressed dump in encrypted chunks.
//!
//! ```text
//! "PFBK1\n" | u32 BE header length | header JSON | chunk* ; chunk = u32 BE length | sealed bytes
//! ```
//! Each chunk is sealed with the field-encryption keyring (key id inside, so a backup taken
//! before a key rotation still restores while the old key is in ENCRYPTION_KEY_PREVIOUS). The
//! associated data binds every chunk to the header, its position and whether it is the last, so
//! a reordered, spliced or truncated file is detected, not silently restored.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use preflight_security::Keyring;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 6] = b"PFBK1\n";
/// Plaintext bytes per chunk: bounded memory whatever the database size.
pub const CHUNK: usize = 1 << 20;
const MAX_HEADER: u32 = 1 << 20;
const MAX_SEALED: u32 = (CHUNK as u32) + 1024;

/// What a backup says about itself (authenticated through the chunks' associated data).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Header {
    pub format: String,
    pub created_at: DateTime<Utc>,
    /// `sqlite` or `postgres`.
    pub backend: String,
    pub preflight_version: String,
    /// Migrations applied in the backed-up database, in order.
    pub migrations: Vec<String>,
    /// Row count of every table at the moment of the snapshot.
    pub tables: BTreeMap<String, u64>,
    /// Compression of the dump inside the chunks.
    pub compression: String,
}

/// Why a backup file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("not a preflight backup (bad magic bytes)")]
    NotABackup,
    #[error("the backup file is truncated: {0}")]
    Truncated(&'static str),
    #[error("the backup header is invalid: {0}")]
    BadHeader(String),
    #[error(
        "cannot decrypt the backup: {0} (is ENCRYPTION_KEY, or ENCRYPTION_KEY_PREVIOUS, the key it was made with?)"
    )]
    Decrypt(preflight_security::DecryptError),
    #[error("cannot encrypt the backup: {0}")]
    Encrypt(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

fn aad(header_hash: &[u8; 32], index: u64, last: bool) -> Vec<u8> {
    let mut a = Vec::with_capacity(41);
    a.extend_from_slice(header_hash);
    a.extend_from_slice(&index.to_be_bytes());
    a.push(u8::from(last));
    a
}

/// Streams plaintext into sealed chunks.
pub struct Writer<'k, W: Write> {
    out: W,
    keyring: &'k Keyring,
    header_hash: [u8; 32],
    buf: Vec<u8>,
    index: u64,
}

impl<'k, W: Write> Writer<'k, W> {
    pub fn new(mut out: W, keyring: &'k Keyring, header: &Header) -> Result<Self, FormatError> {
        let bytes =
            serde_json::to_vec(header).map_err(|e| FormatError::BadHeader(e.to_string()))?;
        let len =
            u32::try_from(bytes.len()).map_err(|_| FormatError::BadHeader("too large".into()))?;
        out.write_all(MAGIC)?;
        out.write_all(&len.to_be_bytes())?;
        out.write_all(&bytes)?;
        Ok(Self {
            out,
            keyring,
            header_hash: Sha256::digest(&bytes).into(),
            buf: Vec::with_capacity(CHUNK),
            index: 0,
        })
    }

    fn seal(&mut self, last: bool) -> Result<(), FormatError> {
        let sealed = self
            .keyring
            .encrypt_bytes(&self.buf, &aad(&self.header_hash, self.index, last))
            .map_err(|e| FormatError::Encrypt(e.to_string()))?;
        let len = u32::try_from(sealed.len())
            .map_err(|_| FormatError::Encrypt("chunk too large".into()))?;
        self.out.write_all(&len.to_be_bytes())?;
        self.out.write_all(&sealed)?;
        self.buf.clear();
        self.index += 1;
        Ok(())
    }

    /// Seals the final chunk (possibly empty) and returns the inner writer.
    pub fn finish(mut self) -> Result<W, FormatError> {
        self.seal(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Writer<'_, W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.seal(false).map_err(std::io::Error::other)?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads the header without decrypting anything.
pub fn read_header<R: Read>(input: &mut R) -> Result<(Header, [u8; 32]), FormatError> {
    let mut magic = [0u8; 6];
    input
        .read_exact(&mut magic)
        .map_err(|_| FormatError::NotABackup)?;
    if &magic != MAGIC {
        return Err(FormatError::NotABackup);
    }
    let mut len = [0u8; 4];
    input
        .read_exact(&mut len)
        .map_err(|_| FormatError::Truncated("header length"))?;
    let len = u32::from_be_bytes(len);
    if len > MAX_HEADER {
        return Err(FormatError::BadHeader("header too large".into()));
    }
    let mut bytes = vec![0u8; len as usize];
    input
        .read_exact(&mut bytes)
        .map_err(|_| FormatError::Truncated("header"))?;
    let header: Header =
        serde_json::from_slice(&bytes).map_err(|e| FormatError::BadHeader(e.to_string()))?;
    if header.format != "preflight-backup" {
        return Err(FormatError::BadHeader(format!(
            "unknown format {:?}",
            header.format
        )));
    }
    Ok((header, Sha256::digest(&bytes).into()))
}

/// Decrypts every chunk after the header into `out`; fails unless the last chunk is present.
pub fn decrypt_body<R: Read, W: Write>(
    input: &mut R,
    header_hash: &[u8; 32],
    keyring: &Keyring,
    out: &mut W,
) -> Result<u64, FormatError> {
    let mut index = 0u64;
    let mut total = 0u64;
    loop {
        let mut len = [0u8; 4];
        match input.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(FormatError::Truncated("the final chunk is missing"));
            }
            Err(e) => return Err(e.into()),
        }
        let len = u32::from_be_bytes(len);
        if len > MAX_SEALED {
            return Err(FormatError::BadHeader(format!(
                "chunk {index} claims {len} bytes"
            )));
        }
        let mut sealed = vec![0u8; len as usize];
        input
            .read_exact(&mut sealed)
            .map_err(|_| FormatError::Truncated("a chunk is cut short"))?;
        // Try as a middle chunk, then as the last one: the flag is part of the authenticated data.
        let (plain, last) = match keyring.decrypt_bytes(&sealed, &aad(header_hash, index, false)) {
            Ok(p) => (p, false),
            Err(preflight_security::DecryptError::AuthenticationFailed) => {
                let p = keyring
                    .decrypt_bytes(&sealed, &aad(header_hash, index, true))
                    .map_err(FormatError::Decrypt)?;
                (p, true)
            }
            Err(e) => return Err(FormatError::Decrypt(e)),
        };
        out.write_all(&plain)?;
        total += plain.len() as u64;
        index += 1;
        if last {
            let mut trailing = [0u8; 1];
            if input.read(&mut trailing)? != 0 {
                return Err(FormatError::BadHeader("data after the final chunk".into()));
            }
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use preflight_security::EncryptionKey;

    fn ring(b: u8) -> Keyring {
        Keyring::new(EncryptionKey::from_bytes([b; 32]), vec![])
    }

    fn header() -> Header {
        Header {
            format: "preflight-backup".into(),
            created_at: Utc::now(),
            backend: "sqlite".into(),
            preflight_version: "0.1.0".into(),
            migrations: vec!["m1".into()],
            tables: BTreeMap::new(),
            compression: "gzip".into(),
        }
    }

    fn seal(data: &[u8], k: &Keyring) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), k, &header()).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    fn open(file: &[u8], k: &Keyring) -> Result<Vec<u8>, FormatError> {
        let mut r = file;
        let (_, hash) = read_header(&mut r)?;
        let mut out = Vec::new();
        decrypt_body(&mut r, &hash, k, &mut out)?;
        Ok(out)
    }

    #[test]
    fn round_trips_across_chunk_boundaries() {
        let k = ring(1);
        for size in [0, 10, CHUNK, CHUNK + 1, 2 * CHUNK + 7] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            assert_eq!(open(&seal(&data, &k), &k).unwrap(), data, "size {size}");
        }
    }

    #[test]
    fn truncation_wrong_key_and_tampering_are_clear_errors() {
        let k = ring(1);
        let data = vec![42u8; CHUNK + 100];
        let file = seal(&data, &k);
        // Cut at a chunk boundary: every remaining chunk is valid, but the last is missing.
        let first_chunk_end = 6 + 4 + u32::from_be_bytes(file[6..10].try_into().unwrap()) as usize;
        let first_len = u32::from_be_bytes(
            file[first_chunk_end..first_chunk_end + 4]
                .try_into()
                .unwrap(),
        ) as usize;
        let cut = &file[..first_chunk_end + 4 + first_len];
        assert!(matches!(open(cut, &k), Err(FormatError::Truncated(_))));
        assert!(matches!(
            open(&file[..file.len() - 5], &k),
            Err(FormatError::Truncated(_))
        ));
        assert!(matches!(
            open(&file, &ring(2)),
            Err(FormatError::Decrypt(_))
        ));
        let mut tampered = file.clone();
        let n = tampered.len();
        tampered[n - 3] ^= 1;
        assert!(matches!(open(&tampered, &k), Err(FormatError::Decrypt(_))));
        assert!(matches!(
            open(b"hello world", &k),
            Err(FormatError::NotABackup)
        ));
    }
}
