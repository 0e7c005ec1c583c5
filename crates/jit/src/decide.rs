//! `jit approve ID` and `jit deny ID --reason TEXT`: decide someone else's request with
//! this device and the approver's own TOTP code.

use crate::approval::{self, Verdict};
use crate::cli::{ApproveArgs, DenyArgs};
use crate::home::Home;
use crate::session::Session;
use crate::{clock, otp};

/// Run `jit approve`.
pub async fn approve(args: ApproveArgs) -> anyhow::Result<()> {
    decide(
        &args.id,
        Verdict::Approve,
        args.reason.as_deref(),
        args.otp.as_deref(),
    )
    .await
}

/// Run `jit deny`.
pub async fn deny(args: DenyArgs) -> anyhow::Result<()> {
    decide(
        &args.id,
        Verdict::Deny,
        Some(&args.reason),
        args.otp.as_deref(),
    )
    .await
}

/// Check the ID, get a code, send the decision, print where the request now stands.
async fn decide(
    id: &str,
    verdict: Verdict,
    reason: Option<&str>,
    otp_flag: Option<&str>,
) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let session = Session::open(&home)?;
    approval::check_id(id)?;
    let code = otp::require_code(otp_flag)?;
    let info = approval::decide(&session, id, verdict, code, reason).await?;
    println!("{}", approval::outcome(&info, clock::now()));
    Ok(())
}
