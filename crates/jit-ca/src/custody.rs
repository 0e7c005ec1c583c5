//! CA key custody: generate, write (encrypted, 0600, never overwrite) and load CA keys.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use rand_core::CryptoRngCore;
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::{LineEnding, PrivateKey};
use zeroize::Zeroizing;

use crate::signer::Ed25519Signer;
use crate::{Error, Result};

/// A passphrase for a CA key file, zeroized on drop.
pub type Passphrase = Zeroizing<String>;

/// Generate a new Ed25519 CA key and write it to `path` in OpenSSH format with mode 0600.
///
/// With `passphrase` the file is encrypted (bcrypt-pbkdf + AES-256-CTR, as `ssh-keygen`
/// does). Without it the key is written in the clear: callers must only do that when the
/// operator asked for it explicitly. An existing file is never overwritten.
pub fn generate_key_file(
    rng: &mut impl CryptoRngCore,
    path: &Path,
    comment: &str,
    passphrase: Option<&Passphrase>,
) -> Result<Ed25519Signer> {
    let display = path.display().to_string();
    let keypair = Ed25519Keypair::random(rng);
    let signing_key = ed25519_dalek::SigningKey::from(&keypair.private);
    let mut private = PrivateKey::new(KeypairData::Ed25519(keypair), comment)
        .map_err(|e| Error::Certificate(e.to_string()))?;
    if let Some(passphrase) = passphrase {
        private = private
            .encrypt(rng, passphrase.as_bytes())
            .map_err(|e| Error::Certificate(e.to_string()))?;
    }
    let text = private
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::Certificate(e.to_string()))?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => Error::KeyExists {
                path: display.clone(),
            },
            _ => Error::Io {
                path: display.clone(),
                source,
            },
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| Error::Io {
            path: display.clone(),
            source,
        })?;
    Ok(Ed25519Signer::new(signing_key, comment))
}

/// Load a CA key written by [`generate_key_file`] (or by `ssh-keygen -t ed25519`).
pub fn load_key_file(path: &Path, passphrase: Option<&Passphrase>) -> Result<Ed25519Signer> {
    let display = path.display().to_string();
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: display.clone(),
        source,
    })?);
    let mut private = PrivateKey::from_openssh(text.as_bytes()).map_err(|_| Error::BadKeyFile {
        path: display.clone(),
    })?;
    if private.is_encrypted() {
        let passphrase = passphrase.ok_or_else(|| Error::PassphraseNeeded {
            path: display.clone(),
        })?;
        private = private
            .decrypt(passphrase.as_bytes())
            .map_err(|_| Error::WrongPassphrase {
                path: display.clone(),
            })?;
    }
    let comment = private.comment().to_string();
    match private.key_data() {
        KeypairData::Ed25519(keypair) => Ok(Ed25519Signer::new(
            ed25519_dalek::SigningKey::from(&keypair.private),
            &comment,
        )),
        _ => Err(Error::UnsupportedCaKey { path: display }),
    }
}

fn read_unopened(path: &Path) -> Result<PrivateKey> {
    let display = path.display().to_string();
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: display.clone(),
        source,
    })?);
    PrivateKey::from_openssh(text.as_bytes()).map_err(|_| Error::BadKeyFile { path: display })
}

/// Whether the key file at `path` is encrypted (for `jitd` status output and tests).
pub fn is_encrypted(path: &Path) -> Result<bool> {
    Ok(read_unopened(path)?.is_encrypted())
}

/// The public key of a key file, without decrypting it (OpenSSH stores it in the clear).
pub fn public_key_of_file(path: &Path) -> Result<ssh_key::PublicKey> {
    Ok(read_unopened(path)?.public_key().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::CaSigner as _;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn encrypted_key_round_trips_and_needs_its_passphrase() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("user_ca");
        let pass = Passphrase::new("correct horse".into());
        let written = generate_key_file(&mut rand_core::OsRng, &path, "jit user CA", Some(&pass))
            .expect("generate");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(is_encrypted(&path).expect("read"));
        let public = public_key_of_file(&path).expect("public");
        assert_eq!(public.key_data(), written.public_key().key_data());
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("BEGIN OPENSSH PRIVATE KEY"));

        let loaded = load_key_file(&path, Some(&pass)).expect("load");
        assert_eq!(loaded.public_key(), written.public_key());
        assert!(matches!(
            load_key_file(&path, None),
            Err(Error::PassphraseNeeded { .. })
        ));
        let wrong = Passphrase::new("wrong".into());
        assert!(matches!(
            load_key_file(&path, Some(&wrong)),
            Err(Error::WrongPassphrase { .. })
        ));
    }

    #[test]
    fn never_overwrites_an_existing_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("user_ca");
        generate_key_file(&mut rand_core::OsRng, &path, "a", None).expect("first");
        let before = std::fs::read(&path).expect("read");
        let again = generate_key_file(&mut rand_core::OsRng, &path, "b", None);
        assert!(matches!(again, Err(Error::KeyExists { .. })));
        assert_eq!(std::fs::read(&path).expect("read"), before);
        assert!(!is_encrypted(&path).expect("read"));
    }
}
