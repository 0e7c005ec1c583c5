//! Getting a certificate into ssh-agent: a fresh key in memory, a TOTP code,
//! `POST /v1/certificates`, then the agent (and a refresh of the host CA keys in
//! `$JIT_HOME/known_hosts`). Shared by `jit ssh` and `jit request --wait`.

use anyhow::Context as _;
use jit_proto::api::{CertificateRequest, CertificateResponse};
use jit_proto::ErrorCode;
use ssh_key::{rand_core::OsRng, Algorithm, Certificate, PrivateKey};

use crate::agent::Agent;
use crate::clock::{self, clock_time, short_duration};
use crate::error::{fail, failure_of, server_code, Failure};
use crate::session::Session;
use crate::{known_hosts, otp};

/// What to ask the server for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask<'a> {
    /// Role.
    pub role: &'a str,
    /// The host the engineer is going to, when known.
    pub host: Option<&'a str>,
    /// Lifetime in seconds (the role default when absent).
    pub ttl: Option<u64>,
    /// `--otp`; otherwise the code is asked for or read from stdin.
    pub otp: Option<&'a str>,
    /// Why (break-glass roles and roles that ask for one).
    pub reason: Option<&'a str>,
    /// Ticket reference.
    pub ticket: Option<&'a str>,
}

/// Make a key in memory, get it certified, load both into the agent, and say so on stderr.
pub async fn fetch(
    session: &Session,
    agent: &mut Agent,
    ask: &Ask<'_>,
) -> anyhow::Result<Certificate> {
    let key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).context("cannot create a key")?;
    let code = otp::require_code(ask.otp)?;
    let body = CertificateRequest {
        freshness: Session::freshness(),
        role: Some(ask.role.to_string()),
        host: ask.host.map(str::to_string),
        ttl_seconds: ask.ttl,
        public_key: key
            .public_key()
            .to_openssh()
            .context("cannot encode the key")?,
        otp: code.to_string(),
        reason: ask.reason.map(str::to_string),
        ticket: ask.ticket.map(str::to_string),
    };
    drop(code);
    let response: CertificateResponse = session
        .call("/v1/certificates", &body)
        .await
        .map_err(|e| explain_refusal(e, ask))
        .context("no certificate was issued")?;
    let certificate = Certificate::from_openssh(&response.certificate).map_err(|e| {
        fail(
            format!("the server sent a certificate jit cannot read: {e}"),
            "the server and this jit may be different versions; ask your operator",
        )
    })?;
    let now = clock::now();
    let left = certificate.valid_before().saturating_sub(now);
    if left == 0 {
        return Err(fail(
            "the new certificate has already expired",
            "check this machine's clock (it must agree with the server's)",
        ));
    }
    let lifetime = u32::try_from(left).unwrap_or(u32::MAX);
    agent
        .install(ask.role, &key, &certificate, lifetime)
        .await?;
    eprint!("{}", announce(&certificate, &response, now));
    known_hosts::refresh_or_warn(session.home(), session.client()).await;
    Ok(certificate)
}

/// The stderr lines for a new certificate: what it is and how long it lasts, which approved
/// request it used, and a warning when it was issued under break-glass.
pub fn announce(certificate: &Certificate, response: &CertificateResponse, now: u64) -> String {
    let mut text = format!(
        "jit: certificate {} for {} valid {} (until {})",
        certificate.key_id(),
        certificate.valid_principals().join(","),
        short_duration(certificate.valid_before().saturating_sub(now)),
        clock_time(certificate.valid_before(), now),
    );
    if let Some(id) = &response.request_id {
        text.push_str(&format!(" (approved request {id})"));
    }
    text.push('\n');
    if response.break_glass {
        text.push_str(&format!(
            "jit: BREAK-GLASS certificate {} for role {}: everyone was alerted and this access \
             will be reviewed\n",
            certificate.key_id(),
            response.role,
        ));
    }
    text
}

/// A role that needs approval: say exactly how to ask for it.
fn explain_refusal(err: anyhow::Error, ask: &Ask<'_>) -> anyhow::Error {
    let code = server_code(&err);
    let Some(failure) = failure_of(&err).filter(|_| code == Some(ErrorCode::ApprovalRequired))
    else {
        return err;
    };
    let host = ask.host.map(|h| format!(" {h}")).unwrap_or_default();
    let hint = format!(
        "ask for approval and wait for it: `jit request --role {} --reason TEXT --wait{host}`",
        ask.role
    );
    anyhow::Error::new(Failure::from_server(
        ErrorCode::ApprovalRequired,
        failure.message(),
        Some(hint),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_key::certificate::{Builder, CertType};

    fn issued(break_glass: bool, request_id: Option<&str>) -> (Certificate, CertificateResponse) {
        let ca = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
        let key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
        let mut builder =
            Builder::new_with_random_nonce(&mut OsRng, key.public_key(), 1_000, 1_900).unwrap();
        builder.serial(9).unwrap();
        builder.key_id("alice@db-admin#9").unwrap();
        builder.cert_type(CertType::User).unwrap();
        builder.valid_principal("dba").unwrap();
        let certificate = builder.sign(&ca).unwrap();
        let response = CertificateResponse {
            certificate: certificate.to_openssh().unwrap(),
            role: "db-admin".into(),
            serial: 9,
            key_id: "alice@db-admin#9".into(),
            principals: vec!["dba".into()],
            valid_after: 1_000,
            valid_before: 1_900,
            log_index: 3,
            break_glass,
            request_id: request_id.map(str::to_string),
        };
        (certificate, response)
    }

    #[test]
    fn ordinary_certificates_get_one_line() {
        let (certificate, response) = issued(false, None);
        assert_eq!(
            announce(&certificate, &response, 1_000),
            "jit: certificate alice@db-admin#9 for dba valid 15m (until 00:31:40Z)\n"
        );
    }

    #[test]
    fn approved_and_break_glass_certificates_say_so() {
        let (certificate, response) = issued(true, Some("r-42"));
        let text = announce(&certificate, &response, 1_000);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with("(until 00:31:40Z) (approved request r-42)"));
        assert_eq!(
            lines[1],
            "jit: BREAK-GLASS certificate alice@db-admin#9 for role db-admin: everyone was \
             alerted and this access will be reviewed"
        );
    }

    #[test]
    fn approval_required_says_how_to_ask() {
        let err = anyhow::Error::new(Failure::from_server(
            ErrorCode::ApprovalRequired,
            "the server refused: role db-admin needs approval (approval_required)",
            None,
        ));
        let ask = Ask {
            role: "db-admin",
            host: Some("db-1"),
            ..Ask::default()
        };
        let text = crate::error::report(&explain_refusal(err, &ask));
        assert!(
            text.ends_with(
                "hint: ask for approval and wait for it: \
                 `jit request --role db-admin --reason TEXT --wait db-1`"
            ),
            "{text}"
        );
        let other = anyhow::Error::new(Failure::new("x", "y"));
        assert_eq!(
            crate::error::report(&explain_refusal(other, &ask)),
            "error: x\nhint: y"
        );
    }
}
