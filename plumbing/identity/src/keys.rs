//! Ed25519 key pairs in files only their owner can read, and public keys as base64 text.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The 32 bytes of a key written as base64.
fn key_bytes(text: &str) -> Result<[u8; 32], KeyError> {
    B64.decode(text.trim())
        .map_err(|e| KeyError::Malformed(e.to_string()))?
        .try_into()
        .map_err(|_| KeyError::Malformed("an Ed25519 key has 32 bytes".into()))
}

/// Why a key could not be read, written or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The key file can be read by its group or by others.
    #[error("key file {0} can be read by others (mode {1:o}); run `chmod 600` on it")]
    Exposed(String, u32),
    /// The file or text is not a key.
    #[error("not an Ed25519 key: {0}")]
    Malformed(String),
}

/// An Ed25519 signing key. `Debug` shows only the public half.
pub struct KeyPair(pub(crate) SigningKey);

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public().to_base64())
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A new random key from the operating system's generator.
    pub fn generate() -> KeyPair {
        KeyPair(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// The key whose secret is `secret`: for fixtures that need the same key in two
    /// places (a test's stand-in central and the boards that pin it). Real keys come from
    /// [`KeyPair::generate`] and live in files.
    pub fn from_secret(secret: [u8; 32]) -> KeyPair {
        KeyPair(SigningKey::from_bytes(&secret))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `message`; answers the signature in base64.
    pub fn sign(&self, message: &[u8]) -> String {
        B64.encode(self.0.sign(message).to_bytes())
    }

    /// Reads a key file written by [`KeyPair::save`], refusing one that its group or
    /// others may read.
    pub fn load(path: &Path) -> Result<KeyPair, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::Exposed(path.display().to_string(), mode & 0o777));
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Ok(KeyPair(SigningKey::from_bytes(&key_bytes(&text)?)))
    }

    /// Writes the key to a new file of mode 0600 (never over an existing one), synced.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        f.write_all(B64.encode(self.0.to_bytes()).as_bytes())
            .map_err(io)?;
        f.sync_all().map_err(io)
    }

    /// Loads the key at `path`, or makes one there when there is no file yet.
    pub fn load_or_create(path: &Path) -> Result<KeyPair, KeyError> {
        if path.exists() {
            return KeyPair::load(path);
        }
        let key = KeyPair::generate();
        key.save(path)?;
        Ok(key)
    }
}

/// An Ed25519 public key, written as base64 of its 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub(crate) VerifyingKey);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl PublicKey {
    /// Reads base64 text.
    pub fn from_base64(text: &str) -> Result<PublicKey, KeyError> {
        VerifyingKey::from_bytes(&key_bytes(text)?)
            .map(PublicKey)
            .map_err(|e| KeyError::Malformed(e.to_string()))
    }

    /// The key's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The key as base64 text.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0.as_bytes())
    }

    /// Whether `signature` (base64) is this key's over `message`.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = B64.decode(signature.trim()) else {
            return false;
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(&bytes) else {
            return false;
        };
        self.0.verify(message, &sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_key_is_private_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.key");
        let key = KeyPair::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = KeyPair::load_or_create(&path).unwrap();
        assert_eq!(key.public(), again.public());
        let sig = key.sign(b"hello");
        assert!(again.public().verify(b"hello", &sig));
        assert!(!again.public().verify(b"hellO", &sig));
        assert!(!format!("{key:?}").contains(&B64.encode(key.0.to_bytes())));
        assert!(key.save(&path).is_err(), "never over an existing key");
    }

    #[test]
    fn a_key_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("central.key");
        KeyPair::generate().save(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(KeyPair::load(&path), Err(KeyError::Exposed(..))));
    }

    #[test]
    fn public_keys_round_trip_as_text() {
        let k = KeyPair::generate().public();
        assert_eq!(PublicKey::from_base64(&k.to_base64()).unwrap(), k);
        assert!(PublicKey::from_base64("abc").is_err());
    }
}
