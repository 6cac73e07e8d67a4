//! Secrets at rest: a 256-bit master key file (mode 0600) in the data directory and
//! XChaCha20-Poly1305 sealing of every stored passphrase and password.

use crate::{Result, StoreError};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use model::Secret;
use rand::RngCore;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

const NONCE_LEN: usize = 24;

/// The key that seals secrets stored in SQLite.
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
}

impl MasterKey {
    /// Reads the key file, or creates it with mode 0600 when absent.
    pub fn load_or_create(path: &Path) -> Result<MasterKey> {
        let io = |source| StoreError::Io {
            path: path.into(),
            source,
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(io)?;
                f.write_all(hex::encode(key).as_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
                hex::encode(key).into_bytes()
            }
            Err(e) => return Err(io(e)),
        };
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "master key readable by others; tightening to 0600");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        let text = String::from_utf8_lossy(&bytes);
        let key = hex::decode(text.trim())
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or_else(|| {
                StoreError::Crypto(format!("{} is not a 64-hex-digit key", path.display()))
            })?;
        let cipher = XChaCha20Poly1305::new_from_slice(&key)
            .map_err(|e| StoreError::Crypto(e.to_string()))?;
        Ok(MasterKey { cipher })
    }

    /// Seals a secret: random nonce followed by the ciphertext.
    pub fn seal(&self, secret: &str) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), secret.as_bytes())
            .map_err(|_| StoreError::Crypto("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend(ct);
        Ok(out)
    }

    /// Opens a sealed secret; fails when the key does not match.
    pub fn open(&self, sealed: &[u8]) -> Result<Secret> {
        if sealed.len() < NONCE_LEN {
            return Err(StoreError::Crypto("sealed secret too short".into()));
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let pt = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| {
                StoreError::Crypto("cannot decrypt a stored secret: wrong master.key?".into())
            })?;
        String::from_utf8(pt)
            .map(Secret::new)
            .map_err(|_| StoreError::Crypto("stored secret is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("master.key");
        let k = MasterKey::load_or_create(&p).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let sealed = k.seal("s3cret-passphrase").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        let k2 = MasterKey::load_or_create(&p).unwrap();
        assert_eq!(k2.open(&sealed).unwrap().expose(), "s3cret-passphrase");
    }
}
