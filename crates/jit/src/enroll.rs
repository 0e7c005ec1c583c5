//! `jit enroll TOKEN` and `jit enroll --confirm`: register the device key, set up the
//! authenticator app, prove it works with a first code, then save the server's host CA
//! keys for ssh (`$JIT_HOME/known_hosts`).

use anyhow::Context as _;
use jit_proto::api::{EnrollConfirmRequest, EnrollRequest, EnrollResponse, Whoami};
use jit_proto::token::EnrollmentToken;
use jit_proto::ErrorCode;
use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;
use ssh_key::{rand_core::OsRng, Algorithm, PrivateKey};

use crate::cli::EnrollArgs;
use crate::error::{fail, report, server_code};
use crate::home::{Config, Home};
use crate::http::Client;
use crate::{clock, known_hosts, otp, roles, signing};

/// Printed when no first code is available: the enrollment stays pending.
pub const PENDING: &str =
    "enrollment is registered but not confirmed; finish with `jit enroll --confirm`";

/// Wrong codes a person at a terminal may retry before jit gives up.
const INTERACTIVE_ATTEMPTS: usize = 3;

/// Run `jit enroll`.
pub async fn run(args: EnrollArgs) -> anyhow::Result<()> {
    let home = Home::locate()?;
    if args.confirm {
        return confirm_pending(&home, args.otp.as_deref()).await;
    }
    let text = args.token.as_deref().unwrap_or_default();
    let token = EnrollmentToken::decode(text).map_err(|e| {
        fail(
            e.to_string(),
            "copy the whole token (it starts with `jit1_`) from your operator",
        )
    })?;
    refuse_existing(&home, args.force)?;
    let client = Client::new(&token.url, &token.tls_sha256)?;

    let device_name = args.name.clone().unwrap_or_else(host_name);
    let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519)
        .context("cannot create the device key")?;
    key.set_comment(format!("jit-device@{device_name}"));
    let request = EnrollRequest {
        token_secret: token.secret.clone(),
        device_public_key: key
            .public_key()
            .to_openssh()
            .context("cannot encode the device key")?,
        device_name,
    };
    eprintln!(
        "jit: registering this device with {} ...",
        client.base_url()
    );
    let response: EnrollResponse = client
        .post("/v1/enroll", &request)
        .await
        .context("enrollment failed")?;
    let fingerprint = signing::fingerprint(&key);
    if response.device != fingerprint {
        tracing::warn!(server = %response.device, local = %fingerprint, "device fingerprints differ");
    }

    if args.force {
        home.forget_enrollment()?;
    }
    home.save_device_key(&key)?;
    let config = Config {
        server_url: client.base_url().to_string(),
        tls_sha256: hex::encode(crate::tls::parse_pin(&token.tls_sha256)?),
        user: response.user.clone(),
        device_fingerprint: fingerprint,
        confirmed: false,
    };
    home.save_config(&config)?;
    show_secret(&response, args.json)?;
    confirm(&home, config, &key, &client, args.otp.as_deref(), args.json).await
}

/// Refuse to overwrite an enrollment unless `--force`.
fn refuse_existing(home: &Home, force: bool) -> anyhow::Result<()> {
    if force || !home.has_enrollment() {
        return Ok(());
    }
    let (what, hint) = match home.load_config().ok().flatten() {
        Some(c) if c.confirmed => (
            format!("this device is already enrolled as {} at {}", c.user, c.server_url),
            "to replace that enrollment (its device key is deleted), run `jit enroll --force TOKEN`",
        ),
        Some(c) => (
            format!("an enrollment for {} at {} is pending", c.user, c.server_url),
            "finish it with `jit enroll --confirm`, or start over with `jit enroll --force TOKEN`",
        ),
        None => (
            format!("{} already holds a device key", home.dir().display()),
            "to replace it, run `jit enroll --force TOKEN`",
        ),
    };
    Err(fail(what, hint))
}

/// Show the TOTP secret: a QR code, the otpauth URI and the base32 secret, or one JSON object.
fn show_secret(response: &EnrollResponse, json: bool) -> anyhow::Result<()> {
    if json {
        let object = serde_json::json!({
            "user": response.user,
            "device": response.device,
            "totp_secret": response.totp_secret,
            "otpauth_uri": response.otpauth_uri,
        });
        println!("{object}");
        return Ok(());
    }
    let code = QrCode::new(response.otpauth_uri.as_bytes()).context("cannot draw the QR code")?;
    let picture = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    println!("Scan this QR code with your authenticator app:\n\n{picture}\n");
    println!("or add it by hand:");
    println!("  otpauth URI: {}", response.otpauth_uri);
    println!("  secret:      {}", response.totp_secret);
    println!("  user:        {}", response.user);
    println!("  device:      {}\n", response.device);
    Ok(())
}

/// Run `jit enroll --confirm`: finish a pending enrollment with the saved device key.
async fn confirm_pending(home: &Home, otp_flag: Option<&str>) -> anyhow::Result<()> {
    let Some(config) = home.load_config()? else {
        return Err(fail(
            "there is no enrollment to confirm on this device",
            "run `jit enroll TOKEN` with the token your operator gave you",
        ));
    };
    if config.confirmed {
        eprintln!(
            "jit: this device is already enrolled and confirmed as {} at {}",
            config.user, config.server_url
        );
        return Ok(());
    }
    let key = home.load_device_key()?;
    let client = Client::new(&config.server_url, &config.tls_sha256)?;
    confirm(home, config, &key, &client, otp_flag, false).await
}

/// Send the first code; on success mark the enrollment confirmed and show the user's roles.
async fn confirm(
    home: &Home,
    mut config: Config,
    key: &PrivateKey,
    client: &Client,
    otp_flag: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let can_retry = otp_flag.is_none() && otp::interactive();
    let mut attempt = 0;
    let whoami = loop {
        attempt += 1;
        let retry = can_retry && attempt < INTERACTIVE_ATTEMPTS;
        let code = match otp::read_code(otp_flag) {
            Ok(Some(code)) => code,
            Ok(None) => {
                eprintln!("jit: {PENDING}");
                return Ok(());
            }
            Err(e) if retry => {
                eprintln!("{}", report(&e));
                continue;
            }
            Err(e) => return Err(e.context(PENDING)),
        };
        let body = EnrollConfirmRequest {
            freshness: signing::freshness(clock::now()),
            otp: code.to_string(),
        };
        match client
            .post_signed::<_, Whoami>("/v1/enroll/confirm", &body, key)
            .await
        {
            Ok(whoami) => break whoami,
            Err(e) if retry && is_code_problem(&e) => eprintln!("{}", report(&e)),
            Err(e) => return Err(e.context(PENDING)),
        }
    };
    config.confirmed = true;
    config.user.clone_from(&whoami.user);
    home.save_config(&config)?;
    let mut summary = "jit: enrollment confirmed; this device can now use `jit ssh`\n".to_string();
    match known_hosts::refresh(home, client).await {
        Ok(count) => summary.push_str(&format!(
            "jit: ssh trusts hosts certified by the server's {count} host CA key(s) ({})\n",
            home.known_hosts_path().display()
        )),
        Err(e) => eprintln!(
            "jit: warning: the host CA keys were not saved ({e:#}); `jit ssh` tries again \
             with its next certificate"
        ),
    }
    summary.push_str(&roles::describe(&whoami));
    if json {
        eprint!("{summary}");
    } else {
        print!("{summary}");
    }
    Ok(())
}

/// Whether a failed confirmation is about the code (worth another try).
fn is_code_problem(err: &anyhow::Error) -> bool {
    matches!(
        server_code(err),
        Some(ErrorCode::InvalidOtp | ErrorCode::MalformedOtp | ErrorCode::ReplayedOtp)
    )
}

/// This machine's host name, for the default device label.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_string())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "device".to_string())
}
