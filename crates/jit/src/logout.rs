//! `jit logout [--role R] [--revoke]`: remove jit certificates from ssh-agent and their
//! `run/` files; with `--revoke`, ask the server to revoke them first.

use jit_proto::api::{RevokeOwn, RevokeOwnResponse};

use crate::agent::{Agent, JitCertificate};
use crate::cli::LogoutArgs;
use crate::clock;
use crate::error::{failure_of, Failure};
use crate::home::Home;
use crate::session::Session;

/// Run `jit logout`. With `--revoke`, the certificates are removed even when revocation
/// fails; the command then fails too, naming the serials still valid.
pub async fn run(args: LogoutArgs) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let mut agent = Agent::from_env().await?;
    let revocation = if args.revoke {
        let listed = agent.jit_certificates().await?;
        let serials = serials_to_revoke(&listed, args.role.as_deref(), clock::now());
        Some(revoke(&home, serials).await)
    } else {
        None
    };
    let removed = agent.remove_jit(args.role.as_deref()).await?;

    let cleaned = match &args.role {
        Some(role) => home.remove_run_files(role),
        None => home.clear_run_dir(),
    };
    if let Err(e) = cleaned {
        tracing::warn!(error = %format!("{e:#}"), "cannot delete some run/ files");
    }

    let count = removed.len();
    let noun = if count == 1 {
        "certificate"
    } else {
        "certificates"
    };
    match &args.role {
        Some(role) => println!("jit: removed {count} {noun} of role {role} from ssh-agent"),
        None => println!("jit: removed {count} jit {noun} from ssh-agent"),
    }
    match revocation {
        None => Ok(()),
        Some(Ok(revoked)) if revoked.is_empty() => {
            println!("jit: nothing to revoke (no unexpired jit certificates)");
            Ok(())
        }
        Some(Ok(revoked)) => {
            println!(
                "jit: revoked on the server: {}; hosts refuse them after their next KRL refresh",
                serials_phrase(&revoked)
            );
            Ok(())
        }
        Some(Err(e)) => Err(e),
    }
}

/// Serials of the unexpired jit certificates of `role` (or of every role), sorted, once each.
pub fn serials_to_revoke(
    certificates: &[JitCertificate],
    role: Option<&str>,
    now: u64,
) -> Vec<u64> {
    let mut serials: Vec<u64> = certificates
        .iter()
        .filter(|c| role.is_none_or(|r| r == c.role) && c.seconds_left(now) > 0)
        .map(|c| c.certificate.serial())
        .collect();
    serials.sort_unstable();
    serials.dedup();
    serials
}

/// `POST /v1/certificates/revoke` for `serials` (nothing to send: nothing revoked). An error
/// names the serials that stay valid and who can still revoke them.
async fn revoke(home: &Home, serials: Vec<u64>) -> anyhow::Result<Vec<u64>> {
    if serials.is_empty() {
        return Ok(Vec::new());
    }
    let sent = serials_phrase(&serials);
    let revoked = async {
        let session = Session::open(home)?;
        let body = RevokeOwn {
            freshness: Session::freshness(),
            serials,
        };
        session
            .call::<_, RevokeOwnResponse>("/v1/certificates/revoke", &body)
            .await
    }
    .await;
    revoked.map(|r| r.revoked).map_err(|e| {
        let cause = failure_of(&e).and_then(Failure::hint).map_or_else(
            || "fix the problem above".to_string(),
            |h| h.trim_end_matches('.').to_string(),
        );
        anyhow::Error::new(Failure::new(
            format!(
                "revocation failed: the certificates with {sent} were removed from ssh-agent \
                 but NOT revoked; they stay valid until they expire ({e:#})"
            ),
            format!(
                "{cause}; meanwhile ask your operator to revoke them (`jitd revoke --serial N`)"
            ),
        ))
    })
}

/// `serial 4` or `serials 4, 9`.
fn serials_phrase(serials: &[u64]) -> String {
    let joined = serials
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    match serials.len() {
        1 => format!("serial {joined}"),
        _ => format!("serials {joined}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::test_certificate as jit_cert;

    #[test]
    fn only_unexpired_certificates_of_the_role_are_revoked() {
        let now = 1_000;
        let certs = [
            jit_cert("web", 9, now + 60),
            jit_cert("db", 4, now + 60),
            jit_cert("web", 3, now),
            jit_cert("web", 9, now + 90),
        ];
        assert_eq!(serials_to_revoke(&certs, None, now), [4, 9]);
        assert_eq!(serials_to_revoke(&certs, Some("web"), now), [9]);
        assert!(serials_to_revoke(&certs, Some("mail"), now).is_empty());
        assert_eq!(serials_phrase(&[1, 22]), "serials 1, 22");
        assert_eq!(serials_phrase(&[7]), "serial 7");
    }
}
