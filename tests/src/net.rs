//! Loopback network helpers.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::process::POLL;

/// A TCP port on 127.0.0.1 that was free a moment ago: binds port 0, reads the port the
/// kernel chose, and closes the socket. Another process may take it before it is used, so
/// callers that start servers should retry on "address in use".
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("jit-e2e: cannot bind 127.0.0.1:0: {e}"))
}

/// Waits up to `timeout` until 127.0.0.1:`port` accepts a TCP connection; returns the
/// connected stream, or `None` on timeout.
pub fn wait_for_port(port: u16, timeout: Duration) -> Option<TcpStream> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            return Some(stream);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}
