//! jit certificates in ssh-agent: list, add (with a lifetime), remove.
//!
//! A jit certificate is an agent identity that is a certificate and whose comment is
//! `jit:<role>` ([`jit_proto::AGENT_COMMENT_PREFIX`]).

use std::path::Path;

use anyhow::Context as _;
use ssh_agent_lib::agent::Session as _;
use ssh_agent_lib::client::Client;
use ssh_agent_lib::proto::{
    AddIdentity, AddIdentityConstrained, KeyConstraint, PrivateCredential, PrivateKeyData,
    PublicCredential, RemoveIdentity,
};
use ssh_key::{Algorithm, Certificate, PrivateKey};
use tokio::net::UnixStream;

use crate::error::{fail, Failure};

/// The agent comment of a role's certificate.
pub fn comment_for(role: &str) -> String {
    format!("{}{role}", jit_proto::AGENT_COMMENT_PREFIX)
}

/// The role named by a jit agent comment, or `None` for any other comment.
pub fn role_from_comment(comment: &str) -> Option<&str> {
    comment
        .strip_prefix(jit_proto::AGENT_COMMENT_PREFIX)
        .filter(|role| !role.is_empty())
}

/// The error for a missing or dead agent (shared by every command that needs one).
pub fn no_agent(detail: &str) -> anyhow::Error {
    anyhow::Error::new(Failure::new(
        format!("no ssh-agent is running ({detail})"),
        "start one with `eval \"$(ssh-agent)\"` and try again",
    ))
}

/// A jit certificate found in the agent.
#[derive(Debug, Clone)]
pub struct JitCertificate {
    /// Role from the comment.
    pub role: String,
    /// The certificate.
    pub certificate: Certificate,
}

impl JitCertificate {
    /// Seconds until the certificate expires (0 once it has).
    pub fn seconds_left(&self, now: u64) -> u64 {
        self.certificate.valid_before().saturating_sub(now)
    }
}

/// A connection to ssh-agent.
#[derive(Debug)]
pub struct Agent {
    client: Client<UnixStream>,
}

impl Agent {
    /// Connect to the agent named by `SSH_AUTH_SOCK`.
    pub async fn from_env() -> anyhow::Result<Agent> {
        match std::env::var_os("SSH_AUTH_SOCK").filter(|v| !v.is_empty()) {
            Some(path) => Agent::connect(Path::new(&path)).await,
            None => Err(no_agent("SSH_AUTH_SOCK is not set")),
        }
    }

    /// Connect to the agent listening on `socket`.
    pub async fn connect(socket: &Path) -> anyhow::Result<Agent> {
        let stream = UnixStream::connect(socket).await.map_err(|e| {
            tracing::debug!(error = %e, socket = %socket.display(), "agent connect failed");
            no_agent(&format!(
                "cannot connect to SSH_AUTH_SOCK={}: {e}",
                socket.display()
            ))
        })?;
        Ok(Agent {
            client: Client::new(stream),
        })
    }

    /// Every jit certificate in the agent, in the agent's order.
    pub async fn jit_certificates(&mut self) -> anyhow::Result<Vec<JitCertificate>> {
        let identities = self
            .client
            .request_identities()
            .await
            .map_err(|e| anyhow::anyhow!("ssh-agent did not list its keys: {e}"))?;
        Ok(identities
            .into_iter()
            .filter_map(|identity| {
                let role = role_from_comment(&identity.comment)?.to_string();
                match identity.credential {
                    PublicCredential::Cert(certificate) => Some(JitCertificate {
                        role,
                        certificate: *certificate,
                    }),
                    PublicCredential::Key(_) => None,
                }
            })
            .collect())
    }

    /// The role's certificates, in the agent's order.
    pub async fn certificates_for(&mut self, role: &str) -> anyhow::Result<Vec<JitCertificate>> {
        let mut certs = self.jit_certificates().await?;
        certs.retain(|c| c.role == role);
        Ok(certs)
    }

    /// Remove one certificate (and its key) from the agent.
    pub async fn remove(&mut self, certificate: &Certificate) -> anyhow::Result<()> {
        self.client
            .remove_identity(RemoveIdentity {
                credential: PublicCredential::Cert(Box::new(certificate.clone())),
            })
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "ssh-agent did not remove certificate {}: {e}",
                    certificate.key_id()
                )
            })
    }

    /// Remove the jit certificates of `role` (or of every role) and return the roles of the
    /// removed ones. Certificates the agent already dropped are skipped.
    pub async fn remove_jit(&mut self, role: Option<&str>) -> anyhow::Result<Vec<String>> {
        let mut removed = Vec::new();
        for cert in self.jit_certificates().await? {
            if role.is_some_and(|r| r != cert.role) {
                continue;
            }
            match self.remove(&cert.certificate).await {
                Ok(()) => removed.push(cert.role),
                Err(e) => tracing::debug!(error = %e, "certificate already gone"),
            }
        }
        Ok(removed)
    }

    /// Load `key` + `certificate` for `role` with a lifetime in seconds, after removing the
    /// role's older certificates; then check with a list call that the agent has it.
    pub async fn install(
        &mut self,
        role: &str,
        key: &PrivateKey,
        certificate: &Certificate,
        lifetime: u32,
    ) -> anyhow::Result<()> {
        if certificate.public_key() != key.public_key().key_data() {
            return Err(fail(
                "the server returned a certificate for a different key",
                "try again; if it persists, tell your operator",
            ));
        }
        let keypair = key
            .key_data()
            .ed25519()
            .ok_or_else(|| anyhow::anyhow!("only Ed25519 keys are loaded into the agent by jit"))?;
        self.remove_jit(Some(role)).await?;
        let credential = PrivateCredential::Cert {
            algorithm: Algorithm::Ed25519,
            certificate: Box::new(certificate.clone()),
            privkey: PrivateKeyData::Ed25519(keypair.clone()),
            comment: comment_for(role),
        };
        self.client
            .add_identity_constrained(AddIdentityConstrained {
                identity: AddIdentity { credential },
                constraints: vec![KeyConstraint::Lifetime(lifetime.max(1))],
            })
            .await
            .map_err(|e| anyhow::anyhow!("ssh-agent refused the certificate: {e}"))?;
        let wanted = certificate
            .to_bytes()
            .context("cannot encode the certificate")?;
        let present = self
            .certificates_for(role)
            .await?
            .iter()
            .any(|c| c.certificate.to_bytes().is_ok_and(|bytes| bytes == wanted));
        if !present {
            return Err(fail(
                "ssh-agent accepted the certificate but does not list it",
                "check that SSH_AUTH_SOCK points at a working OpenSSH ssh-agent, then try again",
            ));
        }
        Ok(())
    }
}

/// A jit certificate for `role` signed by a throwaway CA, for the unit tests of the commands
/// that read certificates from the agent.
#[cfg(test)]
pub(crate) fn test_certificate(role: &str, serial: u64, valid_before: u64) -> JitCertificate {
    use ssh_key::certificate::{Builder, CertType};
    use ssh_key::rand_core::OsRng;
    use ssh_key::{Algorithm, PrivateKey};
    let ca = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
    let key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
    let mut builder =
        Builder::new_with_random_nonce(&mut OsRng, key.public_key(), 1, valid_before).unwrap();
    builder.serial(serial).unwrap();
    builder.key_id(format!("alice@{role}#{serial}")).unwrap();
    builder.cert_type(CertType::User).unwrap();
    builder.valid_principal("deploy").unwrap();
    JitCertificate {
        role: role.to_string(),
        certificate: builder.sign(&ca).unwrap(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_name_the_role() {
        assert_eq!(comment_for("web"), "jit:web");
        assert_eq!(role_from_comment("jit:web"), Some("web"));
        assert_eq!(role_from_comment("jit:"), None);
        assert_eq!(role_from_comment("alice@laptop"), None);
        assert_eq!(role_from_comment("JIT:web"), None);
    }

    #[tokio::test]
    async fn a_missing_agent_says_how_to_start_one() {
        let dir = tempfile::tempdir().unwrap();
        let err = Agent::connect(&dir.path().join("nope.sock"))
            .await
            .unwrap_err();
        let text = crate::error::report(&err);
        assert!(text.starts_with("error: no ssh-agent is running"), "{text}");
        assert!(text.contains("hint: start one with `eval \"$(ssh-agent)\"` and try again"));
    }
}
