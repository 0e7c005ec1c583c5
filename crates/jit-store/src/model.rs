//! Rows the store hands out and takes in.

/// A jit user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Name (unique).
    pub name: String,
    /// Groups, which policy roles refer to.
    pub groups: Vec<String>,
    /// A disabled user gets nothing.
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: u64,
}

/// A device to register.
#[derive(Clone)]
pub struct NewDevice {
    /// `SHA256:` fingerprint of the device public key.
    pub fingerprint: String,
    /// Owner.
    pub user: String,
    /// OpenSSH public key line.
    pub public_key: String,
    /// Label from the client.
    pub name: String,
    /// TOTP secret, base32.
    pub totp_secret: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// A registered device.
#[derive(Clone, PartialEq, Eq)]
pub struct Device {
    /// `SHA256:` fingerprint of the device public key.
    pub fingerprint: String,
    /// Owner.
    pub user: String,
    /// OpenSSH public key line.
    pub public_key: String,
    /// Label from the client.
    pub name: String,
    /// TOTP secret, base32.
    pub totp_secret: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds, once the owner proved the TOTP secret.
    pub confirmed_at: Option<u64>,
}

impl std::fmt::Debug for NewDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewDevice")
            .field("fingerprint", &self.fingerprint)
            .field("user", &self.user)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("fingerprint", &self.fingerprint)
            .field("user", &self.user)
            .field("name", &self.name)
            .field("confirmed_at", &self.confirmed_at)
            .finish_non_exhaustive()
    }
}

/// An issued certificate, as indexed next to its log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRow {
    /// Serial (unique).
    pub serial: u64,
    /// User it was issued to.
    pub user: String,
    /// Role.
    pub role: String,
    /// Key ID.
    pub key_id: String,
    /// Unix seconds.
    pub valid_after: u64,
    /// Unix seconds.
    pub valid_before: u64,
}
