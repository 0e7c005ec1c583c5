//! Independent checks of what the CLI sends: device (and host) signatures over the exact
//! body, freshness and nonces, and TOTP codes.

use std::collections::HashSet;

use base64::Engine as _;
use jit_proto::ErrorCode;
use serde_json::Value;
use ssh_encoding::Decode as _;
use ssh_key::{PublicKey, SshSig};

use super::wire::Request;
use super::{error, Answer, Device, State, GOOD_CODE};

/// Verify `jit-device` / `jit-signature` over the exact body bytes, and the nonce; the
/// device that signed.
pub fn check_signature<'a>(request: &Request, state: &'a mut State) -> Result<&'a Device, Answer> {
    let named = signer(request);
    let device = state
        .devices
        .get(&named)
        .map(|d| d.key.clone())
        .ok_or_else(|| error(ErrorCode::UnknownDevice, "unknown device"))?;
    verify_signed(request, &device, &mut state.nonces)?;
    Ok(&state.devices[&named])
}

/// The `jit-device` header: the fingerprint of the key that signed.
pub fn signer(request: &Request) -> String {
    request
        .headers
        .get("jit-device")
        .cloned()
        .unwrap_or_default()
}

/// Check a signed request independently of jit: the SSHSIG by `key` over method, path and
/// exact body, fresh timestamp, unseen nonce.
pub fn verify_signed(
    request: &Request,
    key: &PublicKey,
    nonces: &mut HashSet<String>,
) -> Result<(), Answer> {
    let raw = request
        .headers
        .get("jit-signature")
        .cloned()
        .unwrap_or_default();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|_| error(ErrorCode::BadSignature, "not base64"))?;
    let sig = SshSig::decode(&mut raw.as_slice())
        .map_err(|_| error(ErrorCode::BadSignature, "not an SSHSIG"))?;
    let message = jit_proto::signing::signed_bytes("POST", &request.path, &request.body);
    key.verify(jit_proto::signing::SIGNATURE_NAMESPACE, &message, &sig)
        .map_err(|_| error(ErrorCode::BadSignature, "signature does not verify"))?;
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let nonce = body["nonce"].as_str().unwrap_or_default().to_string();
    let timestamp = body["timestamp"].as_u64().unwrap_or(0);
    if nonce.len() != 32 || timestamp.abs_diff(jit::clock::now()) > 60 {
        return Err(error(ErrorCode::StaleRequest, "bad freshness"));
    }
    if !nonces.insert(nonce) {
        return Err(error(ErrorCode::ReplayedRequest, "nonce seen before"));
    }
    Ok(())
}

pub fn check_code(body: &[u8]) -> Result<(), Answer> {
    let value: Value = serde_json::from_slice(body).unwrap();
    if value["otp"].as_str() == Some(GOOD_CODE) {
        Ok(())
    } else {
        Err(error(ErrorCode::InvalidOtp, "wrong code"))
    }
}
