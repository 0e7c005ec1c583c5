//! Throwaway user and host CAs that sign certificates the way jitd does.

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

    /// The CA public key, one OpenSSH line.
    pub fn public_line(&self) -> String {
        self.key.public_key().to_openssh().unwrap()
    }

    /// A host certificate for `public`: key ID `host`, the given names, serial and validity.
    pub fn issue_host(
        &self,
        public: &PublicKey,
        host: &str,
        principals: &[String],
        serial: u64,
        validity: (u64, u64),
    ) -> Certificate {
        let mut builder = Builder::new_with_random_nonce(
            &mut OsRng,
            public.key_data().clone(),
            validity.0,
            validity.1,
        )
        .unwrap();
        builder.serial(serial).unwrap();
        builder.key_id(host).unwrap();
        builder.cert_type(CertType::Host).unwrap();
        for principal in principals {
            builder.valid_principal(principal.as_str()).unwrap();
        }
        builder.sign(&self.key).unwrap()
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
