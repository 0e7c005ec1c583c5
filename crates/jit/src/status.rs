//! `jit status`: this device's enrollment and the jit certificates in ssh-agent.

use serde::Serialize;

use crate::agent::{Agent, JitCertificate};
use crate::cli::StatusArgs;
use crate::clock::{self, rfc3339, short_duration};
use crate::home::{Config, Home};

/// The enrollment as `jit status --json` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Enrollment {
    /// User name.
    pub user: String,
    /// Server URL.
    pub server_url: String,
    /// `SHA256:` fingerprint of the device key.
    pub device_fingerprint: String,
    /// Whether the first code was accepted.
    pub confirmed: bool,
}

/// One jit certificate as `jit status --json` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CertificateStatus {
    /// Role from the agent comment.
    pub role: String,
    /// Key ID (`user@role#serial`).
    pub key_id: String,
    /// Serial.
    pub serial: u64,
    /// Principals.
    pub principals: Vec<String>,
    /// Unix seconds.
    pub valid_after: u64,
    /// Unix seconds.
    pub valid_before: u64,
    /// Seconds until expiry (0 once expired).
    pub seconds_left: u64,
    /// Whether the certificate has expired (ssh-agent keeps it until its lifetime ends).
    pub expired: bool,
}

/// The whole `jit status --json` object.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Status {
    /// The enrollment, or `null` when this device is not enrolled.
    pub enrolled: Option<Enrollment>,
    /// jit certificates in the agent.
    pub certificates: Vec<CertificateStatus>,
}

impl Status {
    /// Build the status from the saved config and the agent's certificates at `now`.
    pub fn new(config: Option<Config>, certificates: &[JitCertificate], now: u64) -> Status {
        let enrolled = config.map(|c| Enrollment {
            user: c.user,
            server_url: c.server_url,
            device_fingerprint: c.device_fingerprint,
            confirmed: c.confirmed,
        });
        let certificates = certificates
            .iter()
            .map(|c| CertificateStatus {
                role: c.role.clone(),
                key_id: c.certificate.key_id().to_string(),
                serial: c.certificate.serial(),
                principals: c.certificate.valid_principals().to_vec(),
                valid_after: c.certificate.valid_after(),
                valid_before: c.certificate.valid_before(),
                seconds_left: c.seconds_left(now),
                expired: c.seconds_left(now) == 0,
            })
            .collect();
        Status {
            enrolled,
            certificates,
        }
    }

    /// The status for people.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        match &self.enrolled {
            Some(e) => {
                let state = if e.confirmed {
                    "confirmed"
                } else {
                    "NOT confirmed (finish with `jit enroll --confirm`)"
                };
                out.push_str(&format!("user:    {}\n", e.user));
                out.push_str(&format!("server:  {}\n", e.server_url));
                out.push_str(&format!("device:  {}\n", e.device_fingerprint));
                out.push_str(&format!("enrollment: {state}\n"));
            }
            None => out.push_str("not enrolled (run `jit enroll TOKEN`)\n"),
        }
        if self.certificates.is_empty() {
            out.push_str("no jit certificates in ssh-agent\n");
            return out;
        }
        out.push_str("certificates in ssh-agent:\n");
        for c in &self.certificates {
            let left = if c.expired {
                "EXPIRED".to_string()
            } else {
                format!("{} left", short_duration(c.seconds_left))
            };
            out.push_str(&format!(
                "  {}: {} (serial {}) for {}; valid until {} ({left})\n",
                c.role,
                c.key_id,
                c.serial,
                c.principals.join(","),
                rfc3339(c.valid_before),
            ));
        }
        out
    }
}

/// Run `jit status`.
pub async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let config = home.load_config()?;
    let mut agent = Agent::from_env().await?;
    let certificates = agent.jit_certificates().await?;
    let status = Status::new(config, &certificates, clock::now());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", status.to_text());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::test_certificate as jit_cert;

    #[test]
    fn expired_certificates_are_marked() {
        let now = 10_000;
        let certs = [jit_cert("web", 1, now + 600), jit_cert("db", 2, now - 1)];
        let status = Status::new(None, &certs, now);
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["enrolled"], serde_json::Value::Null);
        assert_eq!(json["certificates"][0]["seconds_left"], 600);
        assert_eq!(json["certificates"][0]["key_id"], "alice@web#1");
        assert_eq!(json["certificates"][1]["expired"], true);
        assert_eq!(json["certificates"][1]["seconds_left"], 0);
        let text = status.to_text();
        assert!(
            text.contains("not enrolled (run `jit enroll TOKEN`)"),
            "{text}"
        );
        assert!(
            text.contains("web: alice@web#1 (serial 1) for deploy;"),
            "{text}"
        );
        assert!(text.contains("(10m left)"), "{text}");
        assert!(text.contains("(EXPIRED)"), "{text}");
    }
}
