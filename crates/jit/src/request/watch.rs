//! Waiting for a request's decision: poll its status every 2 seconds and keep one live
//! status line on stderr, until it is approved, denied, lapses, or the wait times out.

use std::io::{IsTerminal as _, Write};
use std::time::{Duration, Instant};

use jit_proto::api::RequestInfo;

use crate::approval::{self, printable};
use crate::clock::{self, clock_time, elapsed, short_duration};
use crate::error::{fail, server_code};
use crate::session::Session;

/// Time between two status checks.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Status checks in a row that may fail to reach the server before jit gives up.
const MAX_FAILED_POLLS: u32 = 5;
/// Seconds past the request's own expiry before jit stops waiting for the server to say so
/// (room for clocks that disagree a little).
const EXPIRY_GRACE_SECONDS: u64 = 10;
/// Longest live line on a terminal, so it never wraps on a common terminal width.
const LINE_WIDTH: usize = 79;

/// Poll `info` until it is approved (returned), or fail with why not: denied (who and why),
/// lapsed, used, or still pending after `timeout` seconds.
pub async fn until_approved(
    session: &Session,
    mut info: RequestInfo,
    timeout: u64,
) -> anyhow::Result<RequestInfo> {
    let stderr = std::io::stderr();
    let terminal = stderr.is_terminal();
    let mut line = StatusLine::new(stderr, terminal);
    let started = Instant::now();
    let mut failed_polls = 0;
    loop {
        let waited = started.elapsed();
        line.show(&info, waited.as_secs());
        if info.state != "pending" {
            line.finish();
            return match info.state.as_str() {
                "approved" => Ok(info),
                _ => Err(ended(&info)),
            };
        }
        if clock::now() > info.expires_at.saturating_add(EXPIRY_GRACE_SECONDS) {
            line.finish();
            return Err(ended(&RequestInfo {
                state: "expired".to_string(),
                ..info
            }));
        }
        let Some(left) = Duration::from_secs(timeout).checked_sub(waited) else {
            line.finish();
            return Err(timed_out(&info, timeout));
        };
        tokio::time::sleep(left.min(POLL_INTERVAL)).await;
        match approval::status(session, &info.id).await {
            Ok(latest) => {
                info = latest;
                failed_polls = 0;
            }
            // The server did not answer: keep trying for a little while.
            Err(e) if server_code(&e).is_none() && failed_polls < MAX_FAILED_POLLS => {
                failed_polls += 1;
                tracing::debug!(error = %format!("{e:#}"), "status check failed; retrying");
            }
            Err(e) => {
                line.finish();
                return Err(e);
            }
        }
    }
}

/// Why waiting ended without an approval, and what to do about it.
fn ended(info: &RequestInfo) -> anyhow::Error {
    let (id, role) = (printable(&info.id), printable(&info.role));
    match info.state.as_str() {
        "denied" => fail(
            format!(
                "request {id} for role {role} was {}",
                approval::denied_by(info)
            ),
            format!(
                "talk to the approver; if you still need access, make a new request that \
                 explains more (`jit request --role {role} --reason TEXT`)"
            ),
        ),
        "expired" => fail(
            format!(
                "request {id} for role {role} lapsed with approvals {}",
                approval::approvals(info)
            ),
            format!(
                "make a new request (`jit request --role {role} --reason TEXT --wait`) and tell \
                 the approvers: they see it with `jit requests`"
            ),
        ),
        "used" => fail(
            format!("request {id} for role {role} was already used for a certificate"),
            "`jit status` shows the certificates in ssh-agent; make a new request if you need more",
        ),
        other => fail(
            format!("request {id} for role {role} is {}", printable(other)),
            "this jit may be older than the server; `jit requests` shows the request",
        ),
    }
}

/// The wait timed out; the request itself is still pending.
fn timed_out(info: &RequestInfo, timeout: u64) -> anyhow::Error {
    let (id, role) = (printable(&info.id), printable(&info.role));
    fail(
        format!(
            "stopped waiting for request {id} after {}: it is still pending with approvals {}",
            short_duration(timeout),
            approval::approvals(info)
        ),
        format!(
            "it stays pending until {}; once approved, `jit ssh --role {role} HOST` uses it \
             (`jit requests` shows where it stands)",
            clock_time(info.expires_at, clock::now())
        ),
    )
}

/// The live status line: on a terminal one line rewritten in place (with the time waited);
/// otherwise a new line only when the state or the approvals change.
struct StatusLine<W: Write> {
    out: W,
    terminal: bool,
    last: Option<String>,
    open: bool,
}

impl<W: Write> StatusLine<W> {
    fn new(out: W, terminal: bool) -> Self {
        StatusLine {
            out,
            terminal,
            last: None,
            open: false,
        }
    }

    /// Show where `info` stands after `waited` seconds. Progress output is best effort: a
    /// closed stderr must not stop the wait.
    fn show(&mut self, info: &RequestInfo, waited: u64) {
        let summary = format!(
            "jit: request {} {}, approvals {}",
            printable(&info.id),
            printable(&info.state),
            approval::approvals(info)
        );
        if self.terminal {
            let line = format!("{summary}, waited {}", elapsed(waited));
            let line: String = line.chars().take(LINE_WIDTH).collect();
            let _ = write!(self.out, "\r\x1b[2K{line}");
            let _ = self.out.flush();
            self.open = true;
        } else if self.last.as_deref() != Some(summary.as_str()) {
            let _ = writeln!(self.out, "{summary}");
        }
        self.last = Some(summary);
    }

    /// End the live line so what follows starts on a line of its own.
    fn finish(&mut self) {
        if self.open {
            let _ = writeln!(self.out);
            self.open = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::tests::{decision, request};
    use crate::error::report;

    #[test]
    fn pipes_get_a_line_per_change() {
        let mut line = StatusLine::new(Vec::new(), false);
        let pending = request("pending", vec![]);
        let one = request("pending", vec![decision("bob", true, None)]);
        line.show(&pending, 0);
        line.show(&pending, 2);
        line.show(&one, 4);
        line.finish();
        assert_eq!(
            String::from_utf8(line.out).unwrap(),
            "jit: request r1 pending, approvals 0/2\n\
             jit: request r1 pending, approvals 1/2 (bob)\n"
        );
    }

    #[test]
    fn terminals_get_one_line_rewritten_in_place() {
        let mut line = StatusLine::new(Vec::new(), true);
        line.show(&request("pending", vec![]), 0);
        line.show(&request("pending", vec![decision("bob", true, None)]), 65);
        line.finish();
        assert_eq!(
            String::from_utf8(line.out).unwrap(),
            "\r\x1b[2Kjit: request r1 pending, approvals 0/2, waited 0s\
             \r\x1b[2Kjit: request r1 pending, approvals 1/2 (bob), waited 1m05s\n"
        );
    }

    #[test]
    fn endings_say_who_and_why() {
        let denied = request("denied", vec![decision("bob", false, Some("freeze"))]);
        let text = report(&ended(&denied));
        assert!(
            text.starts_with("error: request r1 for role db-admin was denied by bob: freeze\n"),
            "{text}"
        );
        let text = report(&ended(&request("expired", vec![])));
        assert!(text.contains("lapsed with approvals 0/2"), "{text}");
        let text = report(&timed_out(&request("pending", vec![]), 3600));
        assert!(
            text.contains("stopped waiting for request r1 after 1h"),
            "{text}"
        );
        assert!(
            text.contains("`jit ssh --role db-admin HOST` uses it"),
            "{text}"
        );
    }
}
