//! The server's own SSH key pair: generated (ed25519) or imported, kept as an OpenSSH private key
//! encrypted with a random passphrase; both are sealed in the store, the public key is plain.

use model::Secret;
use russh::keys::ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey};
use std::sync::Arc;
use store::Store;

/// Internal state (not a setting) holding the encrypted OpenSSH private key (sealed).
pub const SETTING_PRIVATE_KEY: &str = "ssh_private_key";
/// Internal state holding the passphrase of that key (sealed).
pub const SETTING_PASSPHRASE: &str = "ssh_key_passphrase";
/// Internal state holding the public key in `authorized_keys` form (plain, readable by the API).
pub const SETTING_PUBLIC_KEY: &str = "ssh_public_key";

/// Why a key could not be made, read or stored.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("invalid ssh private key: {0}")]
    Invalid(String),
    #[error("wrong passphrase for the ssh private key")]
    Passphrase,
    #[error("the ssh private key is encrypted: a passphrase is needed")]
    NeedsPassphrase,
    #[error("ssh key generation failed: {0}")]
    Generate(String),
    #[error("the server has no ssh key yet: generate or import one")]
    Missing,
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// The server's decrypted key, ready to authenticate and sign; never leaves the process.
pub struct ClientKey {
    key: Arc<PrivateKey>,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl ClientKey {
    /// Reads an OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`), decrypting it with
    /// `passphrase` when it is encrypted.
    pub fn from_openssh(pem: &str, passphrase: Option<&Secret>) -> Result<ClientKey, KeyError> {
        let key =
            PrivateKey::from_openssh(pem.trim()).map_err(|e| KeyError::Invalid(e.to_string()))?;
        let key = if key.is_encrypted() {
            let pass = passphrase.ok_or(KeyError::NeedsPassphrase)?;
            key.decrypt(pass.expose())
                .map_err(|_| KeyError::Passphrase)?
        } else {
            key
        };
        Ok(ClientKey { key: Arc::new(key) })
    }

    /// The public key in `authorized_keys` form.
    pub fn public_openssh(&self) -> String {
        self.key.public_key().to_openssh().unwrap_or_default()
    }

    /// `SHA256:…` fingerprint of the public key.
    pub fn fingerprint(&self) -> String {
        self.key
            .public_key()
            .fingerprint(HashAlg::Sha256)
            .to_string()
    }

    /// The public key as `algorithm base64` (no comment), as an `authorized_keys` line holds it.
    pub fn public_key_blob(&self) -> String {
        let line = self.public_openssh();
        line.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A fresh ed25519 key (a repository credential; kept only in memory until stored).
    pub fn random() -> Result<ClientKey, KeyError> {
        let key = PrivateKey::random(&mut rand_ssh::rng(), Algorithm::Ed25519)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Ok(ClientKey { key: Arc::new(key) })
    }

    /// The unencrypted OpenSSH private key, for storage sealed with the master key.
    pub fn to_openssh(&self) -> Result<Secret, KeyError> {
        let pem = self
            .key
            .to_openssh(LineEnding::LF)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Ok(Secret::new(pem.as_str()))
    }

    pub(crate) fn private(&self) -> Arc<PrivateKey> {
        self.key.clone()
    }
}

fn encrypted_pem(key: &PrivateKey, passphrase: &Secret) -> Result<(Secret, String), KeyError> {
    let enc = key
        .encrypt(&mut rand_ssh::rng(), passphrase.expose())
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let pem = enc
        .to_openssh(LineEnding::LF)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    Ok((Secret::new(pem.as_str()), public))
}

/// Generates an ed25519 key pair: the OpenSSH private key encrypted with `passphrase`, and the
/// public key line (`ssh-ed25519 AAAA… comment`).
pub fn generate_key(passphrase: &Secret, comment: &str) -> Result<(Secret, String), KeyError> {
    let mut key = PrivateKey::random(&mut rand_ssh::rng(), Algorithm::Ed25519)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    key.set_comment(comment);
    encrypted_pem(&key, passphrase)
}

/// Imports an existing OpenSSH private key (opened with `old_passphrase` when it is encrypted)
/// and re-encrypts it with `new_passphrase`; returns the new PEM and the public key line.
pub fn import_key(
    pem: &str,
    old_passphrase: Option<&Secret>,
    new_passphrase: &Secret,
) -> Result<(Secret, String), KeyError> {
    let key = ClientKey::from_openssh(pem, old_passphrase)?;
    encrypted_pem(&key.key, new_passphrase)
}

fn random_passphrase() -> Secret {
    use rand_ssh::RngExt;
    let bytes: [u8; 32] = rand_ssh::rng().random();
    Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn save(store: &Store, pem: &Secret, passphrase: &Secret, public: &str) -> Result<(), KeyError> {
    store.set_secret_state(SETTING_PASSPHRASE, passphrase)?;
    store.set_secret_state(SETTING_PRIVATE_KEY, pem)?;
    store.set_state(SETTING_PUBLIC_KEY, public)?;
    Ok(())
}

/// Generates the server's key pair (replacing any previous one) and stores it; returns the
/// public key line for `authorized_keys`.
pub fn generate_server_key(store: &Store, comment: &str) -> Result<String, KeyError> {
    let passphrase = random_passphrase();
    let (pem, public) = generate_key(&passphrase, comment)?;
    save(store, &pem, &passphrase, &public)?;
    tracing::info!(public = %public, "generated the server's ssh key");
    Ok(public)
}

/// Imports an existing private key as the server's key; returns its public key line.
pub fn import_server_key(
    store: &Store,
    pem: &str,
    passphrase: Option<&Secret>,
) -> Result<String, KeyError> {
    let new_pass = random_passphrase();
    let (pem, public) = import_key(pem, passphrase, &new_pass)?;
    save(store, &pem, &new_pass, &public)?;
    tracing::info!(public = %public, "imported the server's ssh key");
    Ok(public)
}

/// The server's public key line, if a key exists.
pub fn server_public_key(store: &Store) -> Result<Option<String>, KeyError> {
    Ok(store.state(SETTING_PUBLIC_KEY)?)
}

/// Loads and decrypts the server's key.
pub fn load_server_key(store: &Store) -> Result<ClientKey, KeyError> {
    let pem = store
        .secret_state(SETTING_PRIVATE_KEY)?
        .ok_or(KeyError::Missing)?;
    let pass = store.secret_state(SETTING_PASSPHRASE)?;
    ClientKey::from_openssh(pem.expose(), pass.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_load_import() {
        let pass = Secret::new("pw");
        let (pem, public) = generate_key(&pass, "cyborg@test").unwrap();
        assert!(pem.expose().contains("BEGIN OPENSSH PRIVATE KEY"));
        assert!(public.starts_with("ssh-ed25519 ") && public.ends_with(" cyborg@test"));
        assert!(matches!(
            ClientKey::from_openssh(pem.expose(), None),
            Err(KeyError::NeedsPassphrase)
        ));
        assert!(matches!(
            ClientKey::from_openssh(pem.expose(), Some(&Secret::new("bad"))),
            Err(KeyError::Passphrase)
        ));
        let k = ClientKey::from_openssh(pem.expose(), Some(&pass)).unwrap();
        assert!(k.fingerprint().starts_with("SHA256:"));
        assert_eq!(public, k.public_openssh());

        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(matches!(load_server_key(&store), Err(KeyError::Missing)));
        let imported = import_server_key(&store, pem.expose(), Some(&pass)).unwrap();
        assert_eq!(imported, public);
        assert_eq!(
            server_public_key(&store).unwrap().as_deref(),
            Some(public.as_str())
        );
        assert_eq!(
            load_server_key(&store).unwrap().fingerprint(),
            k.fingerprint()
        );
        let fresh = generate_server_key(&store, "other").unwrap();
        let e = ClientKey::random().unwrap();
        assert!(e.public_key_blob().starts_with("ssh-ed25519 "));
        assert_eq!(e.public_key_blob().split(' ').count(), 2);
        let back = ClientKey::from_openssh(e.to_openssh().unwrap().expose(), None).unwrap();
        assert_eq!(back.fingerprint(), e.fingerprint());
        assert_ne!(fresh, public);
        assert!(ClientKey::from_openssh("garbage", None).is_err());
    }
}
