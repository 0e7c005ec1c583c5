//! Talking to jitd as this enrolled device: every call is signed by the device key.

use anyhow::Context as _;
use jit_proto::api::{Freshness, Whoami, WhoamiRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;
use ssh_key::PrivateKey;

use crate::home::Home;
use crate::http::Client;
use crate::{clock, signing};

/// A confirmed enrollment ready to make device-signed calls.
pub struct Session {
    home: Home,
    client: Client,
    device: PrivateKey,
    user: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.client.base_url())
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Open the confirmed enrollment in `home` (an error says how to enroll otherwise).
    pub fn open(home: &Home) -> anyhow::Result<Session> {
        let config = home.confirmed_config()?;
        let client = Client::new(&config.server_url, &config.tls_sha256)?;
        let device = home.load_device_key()?;
        Ok(Session {
            home: home.clone(),
            client,
            device,
            user: config.user,
        })
    }

    /// The JIT_HOME the enrollment lives in.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// The pinned HTTPS client (for unsigned calls such as `GET /v1/ca`).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The user this device is enrolled for.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Fresh timestamp and nonce for the next request body.
    pub fn freshness() -> Freshness {
        signing::freshness(clock::now())
    }

    /// `POST path` with `body`, signed by the device key.
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.client.post_signed(path, body, &self.device).await
    }

    /// `GET path` signed by the device key (timestamp and nonce ride in the query).
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.client.get_signed(path, &self.device).await
    }

    /// Who this device belongs to, and the roles the user may use.
    pub async fn whoami(&self) -> anyhow::Result<Whoami> {
        let body = WhoamiRequest {
            freshness: Self::freshness(),
        };
        self.call("/v1/whoami", &body)
            .await
            .context("cannot look up your roles")
    }
}
