//! How a device signs a request.
//!
//! The client sends the JSON body unchanged and two headers: [`HEADER_DEVICE`] (the
//! device key's `SHA256:` fingerprint) and [`HEADER_SIGNATURE`] (base64 of an SSHSIG
//! signature, namespace [`SIGNATURE_NAMESPACE`], over [`signed_bytes`]). The body's
//! [`crate::api::Freshness`] fields make each request single use.

/// Header naming the device key by its `SHA256:` fingerprint.
pub const HEADER_DEVICE: &str = "jit-device";
/// Header carrying base64 of the binary SSHSIG signature.
pub const HEADER_SIGNATURE: &str = "jit-signature";
/// SSHSIG namespace: a signature made for jit cannot be replayed elsewhere, nor the reverse.
pub const SIGNATURE_NAMESPACE: &str = "jit-request-v1@jit";

/// The bytes a device signs: method, path and body, separated so none can bleed into another.
pub fn signed_bytes(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + path.len() + body.len());
    out.extend_from_slice(b"jit-request-v1\n");
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(path.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_path_and_body_are_all_bound() {
        let base = signed_bytes("POST", "/v1/certificates", b"{}");
        assert_ne!(base, signed_bytes("PUT", "/v1/certificates", b"{}"));
        assert_ne!(base, signed_bytes("POST", "/v1/whoami", b"{}"));
        assert_ne!(base, signed_bytes("POST", "/v1/certificates", b"{ }"));
    }
}
