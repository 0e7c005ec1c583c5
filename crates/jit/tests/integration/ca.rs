//! A throwaway user CA that signs certificates the way jitd does, for the ssh-agent tests.

use ssh_key::certificate::{Builder, CertType};
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, Certificate, PrivateKey, PublicKey};

/// What a certificate grants.
pub struct Grant<'a> {
    /// User in the key ID.
    pub user: &'a str,
    /// Role in the key ID.
    pub role: &'a str,
    /// Principals.
    pub principals: &'a [&'a str],
    /// Serial.
    pub serial: u64,
    /// Unix seconds.
    pub valid_after: u64,
    /// Unix seconds.
    pub valid_before: u64,
}

/// A CA with a fresh Ed25519 key.
pub struct TestCa {
    key: PrivateKey,
}

impl TestCa {
    /// A new CA.
    pub fn new() -> TestCa {
        TestCa {
            key: PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap(),
        }
    }

    /// A user certificate for `public` with key ID `user@role#serial`.
    pub fn issue(&self, public: &PublicKey, grant: &Grant<'_>) -> Certificate {
        let mut builder = Builder::new_with_random_nonce(
            &mut OsRng,
            public.key_data().clone(),
            grant.valid_after,
            grant.valid_before,
        )
        .unwrap();
        builder.serial(grant.serial).unwrap();
        builder
            .key_id(format!("{}@{}#{}", grant.user, grant.role, grant.serial))
            .unwrap();
        builder.cert_type(CertType::User).unwrap();
        for principal in grant.principals {
            builder.valid_principal(*principal).unwrap();
        }
        builder.extension("permit-pty", "").unwrap();
        builder.sign(&self.key).unwrap()
    }
}
