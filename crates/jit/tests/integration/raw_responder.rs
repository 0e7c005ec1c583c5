//! A raw HTTPS responder with fixed answers per path, only for faults the real jitd cannot
//! be made to show (a login page or a cut-short KRL where a KRL belongs): `jit host sync`
//! must refuse them and keep the old files. Everything else runs against the real jitd.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::TcpListener;
use std::sync::Arc;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::Digest as _;

/// A running responder; it answers until the test process ends.
pub struct RawResponder {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// SHA-256 of its self-signed certificate, hex.
    pub tls_sha256: String,
}

impl RawResponder {
    /// Answer `GET path` with `200` and the bytes given for it, anything else with `404`.
    pub fn start(answers: &[(&str, &[u8])]) -> RawResponder {
        let answers: Arc<HashMap<String, Vec<u8>>> = Arc::new(
            answers
                .iter()
                .map(|(path, body)| (path.to_string(), body.to_vec()))
                .collect(),
        );
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let der = certified.cert.der().clone();
        let tls_sha256 = hex::encode(sha2::Sha256::digest(der.as_ref()));
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der], PrivateKeyDer::Pkcs8(key))
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let Some(path) = request_path(&mut tls) else {
                    continue; // e.g. the client refused the certificate
                };
                let (status, body) = match answers.get(&path) {
                    Some(body) => ("200 OK", body.as_slice()),
                    None => ("404 Not Found", &b""[..]),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes());
                let _ = tls.write_all(body);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        });
        RawResponder { url, tls_sha256 }
    }
}

/// The path of a bodiless request, once its head has arrived.
fn request_path(stream: &mut impl std::io::Read) -> Option<String> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    while !data.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&data);
    let path = head.lines().next()?.split_whitespace().nth(1)?;
    Some(path.split('?').next()?.to_string())
}
