//! TLS pinned to exactly one server certificate: the one named in the enrollment token.
//!
//! jitd serves HTTPS with a self-signed certificate. Instead of a CA chain the client
//! accepts the end-entity certificate only if SHA-256 of its DER encoding equals the pin,
//! and still checks the handshake signatures with the certificate's key (ring provider).

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, Error, SignatureScheme};
use sha2::{Digest as _, Sha256};

use crate::error::fail;

/// Where the verifier records the fingerprint of a certificate it refused (hex), so the
/// HTTP layer can explain a failed handshake.
pub type MismatchRecord = Arc<Mutex<Option<String>>>;

/// Normalise a pinned fingerprint (`AB:CD...` or `abcd...`) to 64 lowercase hex digits.
pub fn parse_pin(text: &str) -> anyhow::Result<[u8; 32]> {
    let hex_digits: String = text.chars().filter(|c| *c != ':').collect();
    let mut pin = [0u8; 32];
    hex::decode_to_slice(hex_digits.trim(), &mut pin).map_err(|_| {
        fail(
            "the TLS fingerprint in the enrollment is not 64 hex digits",
            "enroll again with a fresh token (`jit enroll --force TOKEN`)",
        )
    })?;
    Ok(pin)
}

/// Accepts one certificate, by SHA-256 of its DER encoding.
#[derive(Debug)]
pub struct PinnedVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
    mismatch: MismatchRecord,
}

impl PinnedVerifier {
    /// A verifier for `pin` that checks signatures with `provider` and records refusals in
    /// `mismatch`.
    pub fn new(pin: [u8; 32], provider: Arc<CryptoProvider>, mismatch: MismatchRecord) -> Self {
        PinnedVerifier {
            pin,
            provider,
            mismatch,
        }
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let seen: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if seen == self.pin {
            return Ok(ServerCertVerified::assertion());
        }
        let seen_hex = hex::encode(seen);
        tracing::debug!(expected = %hex::encode(self.pin), seen = %seen_hex, "server TLS certificate does not match the pin");
        if let Ok(mut record) = self.mismatch.lock() {
            *record = Some(seen_hex);
        }
        Err(Error::InvalidCertificate(
            CertificateError::ApplicationVerificationFailure,
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client configuration (ring provider) that trusts only the pinned certificate.
pub fn pinned_client_config(
    pin: [u8; 32],
    mismatch: MismatchRecord,
) -> anyhow::Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinnedVerifier::new(pin, provider.clone(), mismatch);
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(
        verifier: &PinnedVerifier,
        der: &CertificateDer<'_>,
    ) -> Result<ServerCertVerified, Error> {
        let name = ServerName::try_from("localhost").unwrap();
        verifier.verify_server_cert(der, &[], &name, &[], UnixTime::now())
    }

    #[test]
    fn only_the_pinned_certificate_is_accepted() {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let der = cert.cert.der();
        let pin = parse_pin(&hex::encode(Sha256::digest(der.as_ref()))).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let record = MismatchRecord::default();
        let verifier = PinnedVerifier::new(pin, provider, record.clone());

        assert!(verify(&verifier, der).is_ok());
        assert!(record.lock().unwrap().is_none());

        let err = verify(&verifier, other.cert.der()).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
        );
        let seen = record.lock().unwrap().clone().unwrap();
        assert_eq!(seen, hex::encode(Sha256::digest(other.cert.der().as_ref())));
    }

    #[test]
    fn pins_are_64_hex_digits_with_optional_colons() {
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_pin(&colons).unwrap(), [0xab; 32]);
        assert!(parse_pin("abcd").is_err());
        assert!(parse_pin(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn the_verifier_offers_the_providers_schemes() {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = PinnedVerifier::new([0; 32], provider, MismatchRecord::default());
        assert!(verifier
            .supported_verify_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP256_SHA256));
    }
}
