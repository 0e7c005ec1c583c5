//! Log output that never wedges jitd: lines go through a bounded queue to one writer thread.
//!
//! The promise: whatever happens to stderr (the reader of a pipe died, the log file's disk
//! is full, a pipe nobody reads), logging never panics, never blocks a request or the
//! signal handler, and jitd keeps serving and stops on SIGTERM/SIGINT.
//!
//! - A log event is formatted on the calling thread, then offered to a bounded queue
//!   ([`QUEUE_LINES`]) with a non-blocking send. A full queue drops the line and counts it
//!   ([`Counters::dropped`], `jit_log_lines_dropped_total`).
//! - One writer thread writes each line to the sink (stderr). A failed write (EPIPE,
//!   ENOSPC, ...) is swallowed and counted ([`Counters::write_errors`],
//!   `jit_log_write_errors_total`); every later line is tried again, so output resumes by
//!   itself once the disk has room. A blocked write (a full pipe) blocks only this thread.
//! - Once lines can be written again, the writer logs how many were lost since the last
//!   notice (at most one notice per [`NOTICE_INTERVAL`]).
//! - At exit, [`Output::flush`] waits a bounded time for queued lines.
//!
//! `tracing-subscriber` itself would `eprintln!` on a failed write, which panics on a
//! broken stderr (inside a request, a dropped connection; inside the signal task, a SIGTERM
//! ignored): this queue's writer never reports an error to it, and its internal error
//! reporting is off.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::LogFormat;

/// How many formatted lines may wait for the writer thread before new ones are dropped.
pub const QUEUE_LINES: usize = 8192;

/// The shortest time between two "log lines were lost" notices.
pub const NOTICE_INTERVAL: Duration = Duration::from_secs(10);

/// How long [`Output::flush`] waits at exit, so a stuck stderr cannot hold the exit up.
pub const EXIT_FLUSH: Duration = Duration::from_secs(2);

/// What the log output lost, exported in `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Lines dropped because the queue was full (the output could not keep up).
    pub dropped: Counter,
    /// Lines whose write failed (closed pipe, full disk, ...).
    pub write_errors: Counter,
}

impl Counters {
    /// Lines lost either way so far.
    fn lost(&self) -> u64 {
        self.dropped.get() + self.write_errors.get()
    }
}

/// State shared by the senders, the writer thread and [`Output`].
#[derive(Debug, Default)]
struct Shared {
    counters: Counters,
    /// Lines queued and not yet written (or failed).
    pending: AtomicUsize,
}

/// The sending side: a [`MakeWriter`] for `tracing-subscriber`.
#[derive(Debug, Clone)]
pub struct Queue {
    sender: SyncSender<Vec<u8>>,
    shared: Arc<Shared>,
}

impl Queue {
    /// Offer one formatted line; never blocks, never fails (a dropped line is counted).
    fn offer(&self, line: Vec<u8>) {
        self.shared.pending.fetch_add(1, Ordering::SeqCst);
        match self.sender.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.pending.fetch_sub(1, Ordering::SeqCst);
                self.shared.counters.dropped.inc();
            }
        }
    }
}

/// One log event being formatted; queued as one line when dropped.
#[derive(Debug)]
pub struct Line<'a> {
    queue: &'a Queue,
    buffer: Vec<u8>,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if !self.buffer.is_empty() {
            self.queue.offer(std::mem::take(&mut self.buffer));
        }
    }
}

impl<'a> MakeWriter<'a> for Queue {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            queue: self,
            buffer: Vec::new(),
        }
    }
}

/// The receiving side's handle: counters, and a bounded flush at exit.
#[derive(Debug, Clone)]
pub struct Output {
    shared: Arc<Shared>,
}

impl Output {
    /// What the log output lost so far (for `/metrics`).
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Wait until every queued line was written (or failed), at most `timeout`. Returns
    /// whether the queue drained.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.shared.pending.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

/// Start a writer thread that writes queued lines to `sink`, with room for `capacity`
/// lines. Fails only when the thread cannot be started.
pub fn spawn<W: Write + Send + 'static>(
    sink: W,
    capacity: usize,
) -> std::io::Result<(Queue, Output)> {
    let (sender, receiver) = sync_channel(capacity);
    let shared = Arc::new(Shared::default());
    let writer = shared.clone();
    std::thread::Builder::new()
        .name("jitd-log".into())
        .spawn(move || write_lines(receiver, sink, &writer))?;
    Ok((
        Queue {
            sender,
            shared: shared.clone(),
        },
        Output { shared },
    ))
}

/// The writer thread: write each line, count failures, notice losses once output works.
fn write_lines<W: Write>(lines: Receiver<Vec<u8>>, mut sink: W, shared: &Shared) {
    let counters = &shared.counters;
    let mut reported = 0; // lines lost as of the last notice
    let mut last_notice: Option<Instant> = None;
    for line in lines {
        let written = sink.write_all(&line).and_then(|()| sink.flush());
        shared.pending.fetch_sub(1, Ordering::SeqCst);
        if written.is_err() {
            counters.write_errors.inc();
            continue;
        }
        let lost = counters.lost();
        let due = last_notice.is_none_or(|at| at.elapsed() >= NOTICE_INTERVAL);
        if lost > reported && due {
            // Goes through the queue like any line; if it is dropped, that is counted too.
            tracing::warn!(
                lost = lost - reported,
                dropped_total = counters.dropped.get(),
                write_errors_total = counters.write_errors.get(),
                "log lines were lost (the log output was unwritable or too slow); see jit_log_* in /metrics"
            );
            reported = lost;
            last_notice = Some(Instant::now());
        }
    }
}

/// Set up tracing for the process: human or JSON lines on stderr through the queue,
/// `RUST_LOG` filters (default `info`).
pub fn init(format: LogFormat) -> std::io::Result<Output> {
    let (queue, output) = spawn(std::io::stderr(), QUEUE_LINES)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .log_internal_errors(false)
        .with_writer(queue);
    // Only fails when a subscriber is already set (then that one keeps logging).
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(output)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn send(queue: &Queue, text: &str) {
        let mut line = queue.make_writer();
        line.write_all(text.as_bytes())
            .expect("a queued line never fails");
    }

    #[test]
    fn lines_reach_the_sink_in_order() {
        let (mut reader, writer) = std::io::pipe().expect("a pipe");
        let (queue, output) = spawn(writer, 16).expect("the writer thread");
        send(&queue, "one\n");
        send(&queue, "two\n");
        assert!(output.flush(Duration::from_secs(5)));
        drop(queue); // the writer thread ends and closes the pipe
        let mut text = String::new();
        reader.read_to_string(&mut text).expect("read the pipe");
        assert_eq!(text, "one\ntwo\n");
        assert_eq!(output.counters().lost(), 0);
    }

    #[test]
    fn a_closed_pipe_counts_write_errors_and_never_fails_the_caller() {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let (queue, output) = spawn(writer, 16).expect("the writer thread");
        for _ in 0..5 {
            send(&queue, "lost\n");
            assert!(output.flush(Duration::from_secs(5)));
        }
        assert_eq!(output.counters().write_errors.get(), 5);
        assert_eq!(output.counters().dropped.get(), 0);
    }

    #[test]
    fn a_pipe_nobody_reads_drops_lines_without_blocking() {
        let (_reader, writer) = std::io::pipe().expect("a pipe");
        let (queue, output) = spawn(writer, 4).expect("the writer thread");
        let line = format!("{}\n", "x".repeat(1023));
        // Let the writer catch up after each line, so the pipe fills (64 KiB), then the
        // queue; after that, lines are dropped.
        let mut sent = 0;
        while output.counters().dropped.get() == 0 {
            assert!(sent < 1000, "no line was dropped after {sent} lines");
            let started = Instant::now();
            send(&queue, &line);
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "sending blocked"
            );
            output.flush(Duration::from_millis(5));
            sent += 1;
        }
        assert!(
            sent > 64,
            "lines were dropped before the pipe was full: {sent}"
        );
        assert!(
            !output.flush(Duration::from_millis(50)),
            "a stuck sink is not drained"
        );
    }
}
