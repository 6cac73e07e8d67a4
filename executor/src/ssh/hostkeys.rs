//! Host key pinning: trust on first use, refuse a changed key until an administrator accepts it.

use std::collections::HashMap;
use std::sync::Mutex;
use store::Store;

/// What a host key store says about the key a host presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyVerdict {
    /// The pinned key: go on.
    Known,
    /// No key was pinned for this host: this one is pinned now (trust on first use).
    New,
    /// Another key is pinned: refuse the connection.
    Changed { expected: String, got: String },
}

/// Where pinned host keys live.
pub trait HostKeyStore: Send + Sync {
    /// Checks (and on first use pins) `key_openssh`, whose SHA-256 fingerprint is `fingerprint`;
    /// a changed key is recorded for acceptance. An error is a failure of the store itself.
    fn check(
        &self,
        host: &str,
        port: u16,
        key_type: &str,
        fingerprint: &str,
        key_openssh: &str,
    ) -> Result<HostKeyVerdict, String>;
}

impl HostKeyStore for Store {
    fn check(
        &self,
        host: &str,
        port: u16,
        key_type: &str,
        fingerprint: &str,
        key_openssh: &str,
    ) -> Result<HostKeyVerdict, String> {
        let existed = self
            .host_key(host, port)
            .map_err(|e| e.to_string())?
            .is_some();
        let pinned = self
            .pin_host_key(host, port, key_type, fingerprint, key_openssh)
            .map_err(|e| e.to_string())?;
        if pinned.fingerprint == fingerprint {
            if existed {
                return Ok(HostKeyVerdict::Known);
            }
            tracing::info!(host, port, fingerprint, "ssh host key pinned on first use");
            return Ok(HostKeyVerdict::New);
        }
        self.record_changed_host_key(host, port, key_type, fingerprint, key_openssh)
            .map_err(|e| e.to_string())?;
        tracing::warn!(host, port, expected = %pinned.fingerprint, got = fingerprint, "ssh host key changed");
        Ok(HostKeyVerdict::Changed {
            expected: pinned.fingerprint,
            got: fingerprint.to_string(),
        })
    }
}

/// An in-memory store, for tools and tests: trust on first use for the life of the process.
#[derive(Debug, Default)]
pub struct MemoryHostKeys {
    keys: Mutex<HashMap<(String, u16), String>>,
}

impl HostKeyStore for MemoryHostKeys {
    fn check(
        &self,
        host: &str,
        port: u16,
        _key_type: &str,
        fingerprint: &str,
        _key_openssh: &str,
    ) -> Result<HostKeyVerdict, String> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        match keys.get(&(host.to_string(), port)) {
            Some(k) if k == fingerprint => Ok(HostKeyVerdict::Known),
            Some(k) => Ok(HostKeyVerdict::Changed {
                expected: k.clone(),
                got: fingerprint.to_string(),
            }),
            None => {
                keys.insert((host.to_string(), port), fingerprint.to_string());
                Ok(HostKeyVerdict::New)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_verdicts() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let check = |fp: &str| {
            HostKeyStore::check(&s, "h", 22, "ssh-ed25519", fp, "ssh-ed25519 X").unwrap()
        };
        assert_eq!(check("SHA256:a"), HostKeyVerdict::New);
        assert_eq!(check("SHA256:a"), HostKeyVerdict::Known);
        assert_eq!(
            check("SHA256:b"),
            HostKeyVerdict::Changed {
                expected: "SHA256:a".into(),
                got: "SHA256:b".into()
            }
        );
        s.accept_host_key("h", 22, "admin").unwrap();
        assert_eq!(check("SHA256:b"), HostKeyVerdict::Known);
        let m = MemoryHostKeys::default();
        assert_eq!(m.check("h", 1, "t", "x", "k").unwrap(), HostKeyVerdict::New);
        assert_eq!(
            m.check("h", 1, "t", "x", "k").unwrap(),
            HostKeyVerdict::Known
        );
        assert!(matches!(
            m.check("h", 1, "t", "y", "k").unwrap(),
            HostKeyVerdict::Changed { .. }
        ));
    }
}
