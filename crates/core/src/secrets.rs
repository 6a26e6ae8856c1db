//! Secrets the desk keeps for others (mail server passwords), sealed at rest: AES-256-GCM under
//! a key from `GONGDAN_SECRET_KEY` (64 hex digits) or the data directory's `secret.key`, made on
//! first use. A stolen database without the key gives no password away.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::{App, CoreError, Result};

/// Marks the format (and the key generation, when keys rotate) of a sealed value.
const PREFIX: &str = "v1:";
const KEY_FILE: &str = "secret.key";

/// The key secrets are sealed with.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// From 64 hex digits.
    pub fn from_hex(text: &str) -> Option<SecretKey> {
        let t = text.trim();
        if t.len() != 64 || !t.is_ascii() {
            return None;
        }
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(SecretKey(key))
    }

    /// The data directory's key, made (readable by its owner only) when there is none.
    pub fn in_dir(dir: &Path) -> Result<SecretKey> {
        let path = dir.join(KEY_FILE);
        let fail = |what: &str, e: std::io::Error| CoreError::Internal(format!("{what} {}: {e}", path.display()));
        match std::fs::read_to_string(&path) {
            Ok(text) => SecretKey::from_hex(&text)
                .ok_or_else(|| CoreError::Internal(format!("{} does not hold 64 hex digits", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| CoreError::Internal(format!("no randomness: {e}")))?;
                std::fs::create_dir_all(dir).map_err(|e| fail("creating the directory of", e))?;
                let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
                write_private(&path, &hex).map_err(|e| fail("writing", e))?;
                Ok(SecretKey(key))
            }
            Err(e) => Err(fail("reading", e)),
        }
    }

    pub fn seal(&self, plain: &str) -> Result<String> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| CoreError::Internal(format!("no randomness: {e}")))?;
        let cipher = Aes256Gcm::new(&self.0.into());
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), plain.as_bytes())
            .map_err(|_| CoreError::Internal("sealing a secret failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// The secret, or an error saying the key does not open it (another desk's key, a key
    /// replaced since).
    pub fn open(&self, sealed: &str) -> Result<String> {
        let wrong = || CoreError::Internal("a stored secret does not open with this desk's key".into());
        let bytes = sealed.strip_prefix(PREFIX).and_then(|b| STANDARD.decode(b).ok()).ok_or_else(wrong)?;
        if bytes.len() < 12 {
            return Err(wrong());
        }
        let (nonce, body) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| wrong())?;
        let plain = Aes256Gcm::new(&self.0.into()).decrypt(&Nonce::from(nonce), body).map_err(|_| wrong())?;
        String::from_utf8(plain).map_err(|_| wrong())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // create_new: two processes starting at once must not each write a key of their own.
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(text.as_bytes())
}

impl App {
    /// The desk's key: the configured one, else the data directory's.
    pub(crate) fn secret_key(&self) -> Result<&SecretKey> {
        if let Some(k) = self.secret_key.get() {
            return Ok(k);
        }
        let key = match &self.settings.secret_key {
            Some(k) => k.clone(),
            None => match SecretKey::in_dir(&self.settings.data_dir) {
                Ok(k) => k,
                // Another process made it between our read and our write: read theirs.
                Err(_) if self.settings.data_dir.join(KEY_FILE).exists() => SecretKey::in_dir(&self.settings.data_dir)?,
                Err(e) => return Err(e),
            },
        };
        Ok(self.secret_key.get_or_init(|| key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_only() {
        let dir = std::env::temp_dir().join(format!("gd-secret-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let key = SecretKey::in_dir(&dir).unwrap();
        let again = SecretKey::in_dir(&dir).unwrap();
        let sealed = key.seal("imap-密码").unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains("imap"));
        assert_ne!(sealed, key.seal("imap-密码").unwrap(), "a fresh nonce each time");
        assert_eq!(again.open(&sealed).unwrap(), "imap-密码");
        let other = SecretKey::from_hex(&"ab".repeat(32)).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(key.open("v1:AAAA").is_err() && key.open("plain").is_err());
        assert!(SecretKey::from_hex("12").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
