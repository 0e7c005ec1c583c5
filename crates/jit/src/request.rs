//! `jit request`: ask approvers for a role; with `--wait`, wait for the decision, then get
//! the certificate into ssh-agent and, given a host, connect exactly like `jit ssh`.

mod watch;

use jit_proto::api::RequestInfo;

use crate::agent::Agent;
use crate::approval::{self, printable};
use crate::cli::RequestArgs;
use crate::clock::{self, clock_time};
use crate::home::Home;
use crate::issue::{self, Ask};
use crate::session::Session;
use crate::ssh::{self, Destination};

/// Run `jit request`. With `--wait` and a host it returns only on failure: on success the
/// process becomes ssh.
pub async fn run(args: RequestArgs) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let session = Session::open(&home)?;
    let destination = args
        .destination
        .as_deref()
        .map(Destination::parse)
        .transpose()?;
    // What the end of a long wait needs is checked before anyone is asked to approve.
    let mut agent = if args.wait {
        home.run_files(&args.role)?;
        Some(Agent::from_env().await?)
    } else {
        None
    };

    let info = approval::create(
        &session,
        &args.role,
        &args.reason,
        args.ticket.as_deref(),
        args.ttl,
    )
    .await?;
    let text = created(&info, args.wait, clock::now());
    let Some(agent) = agent.as_mut() else {
        print!("{text}");
        return Ok(());
    };
    eprint!("{text}");

    let info = watch::until_approved(&session, info, args.timeout).await?;
    let ask = Ask {
        role: &info.role,
        host: destination.as_ref().map(|d| d.host.as_str()),
        ttl: args.ttl,
        otp: args.otp.as_deref(),
        reason: Some(&args.reason),
        ticket: args.ticket.as_deref(),
    };
    let certificate = issue::fetch(&session, agent, &ask).await?;
    match &destination {
        Some(destination) => ssh::connect(
            &home,
            &info.role,
            &certificate,
            destination,
            &args.connection,
            &args.command,
        ),
        None => {
            eprintln!(
                "jit: `jit ssh --role {} HOST` will now reuse this certificate",
                printable(&info.role)
            );
            Ok(())
        }
    }
}

/// What was asked, and what happens next.
fn created(info: &RequestInfo, waiting: bool, now: u64) -> String {
    let (id, role) = (printable(&info.id), printable(&info.role));
    let mut text = format!(
        "jit: request {id} for role {role} is {}: approvals {}; it lapses at {}\n\
         jit: approvers decide with `jit approve {id}` (or `jit deny {id} --reason TEXT`)\n",
        printable(&info.state),
        approval::approvals(info),
        clock_time(info.expires_at, now),
    );
    if !waiting {
        text.push_str(&format!(
            "jit: once it is approved, connect with `jit ssh --role {role} HOST`\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::tests::request;

    #[test]
    fn a_new_request_names_its_id_and_how_to_decide() {
        let info = request("pending", vec![]);
        let text = created(&info, false, 1_000);
        assert_eq!(
            text,
            "jit: request r1 for role db-admin is pending: approvals 0/2; it lapses at 01:16:40Z\n\
             jit: approvers decide with `jit approve r1` (or `jit deny r1 --reason TEXT`)\n\
             jit: once it is approved, connect with `jit ssh --role db-admin HOST`\n"
        );
        assert!(!created(&info, true, 1_000).contains("once it is approved"));
    }
}
