//! The ledger's changes as one call each, for tests that need state in place: each commits
//! its change with a plain "user" record through [`Store::commit`].

use jit_store::{
    AccessRequest, Applied, Change, NewAccessRequest, NewDevice, Result, Review, Revocation, Store,
};

use super::records::user_record;

/// One call per change (a test record goes with each).
#[allow(async_fn_in_trait, dead_code)]
pub trait Changes {
    /// Commit `change` with a test record; what it came to.
    async fn change(&self, change: Change) -> Result<Applied>;

    /// [`Change::AddUser`].
    async fn add_user(&self, name: &str, groups: &[String], at: u64) -> Result<()> {
        let (name, groups) = (name.into(), groups.to_vec());
        self.change(Change::AddUser { name, groups, at })
            .await
            .map(drop)
    }

    /// [`Change::SetUserDisabled`] at time 0 (so no certificate is revoked with it).
    async fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<()> {
        self.change(Change::SetUserDisabled {
            name: name.into(),
            disabled,
            at: u64::MAX / 2,
            reason: "test".into(),
            revoked_by: "test".into(),
        })
        .await
        .map(drop)
    }

    /// [`Change::AddEnrollmentToken`].
    async fn add_enrollment_token(
        &self,
        hash: &str,
        user: &str,
        at: u64,
        until: u64,
    ) -> Result<()> {
        self.change(Change::AddEnrollmentToken {
            token_hash: hash.into(),
            user: user.into(),
            at,
            expires_at: until,
        })
        .await
        .map(drop)
    }

    /// [`Change::RegisterDevice`] with a token made for it just before.
    async fn add_device(&self, device: &NewDevice) -> Result<()> {
        let token_hash = format!("token-for-{}", device.fingerprint);
        let until = device.created_at + 60;
        // a second registration of the same key reuses the token name: ignore "exists"
        let _ = self
            .add_enrollment_token(&token_hash, &device.user, device.created_at, until)
            .await;
        self.change(Change::RegisterDevice {
            token_hash,
            device: device.clone(),
        })
        .await
        .map(drop)
    }

    /// [`Change::ConfirmDevice`].
    async fn confirm_device(&self, fingerprint: &str, at: u64) -> Result<()> {
        let fingerprint = fingerprint.into();
        self.change(Change::ConfirmDevice { fingerprint, at })
            .await
            .map(drop)
    }

    /// [`Change::CreateRequest`].
    async fn create_request(&self, request: &NewAccessRequest) -> Result<()> {
        self.change(Change::CreateRequest(request.clone()))
            .await
            .map(drop)
    }

    /// [`Change::DecideRequest`].
    async fn decide_request(
        &self,
        id: &str,
        approver: &str,
        approve: bool,
        reason: Option<&str>,
        at: u64,
    ) -> Result<AccessRequest> {
        let change = Change::DecideRequest {
            id: id.into(),
            approver: approver.into(),
            approve,
            reason: reason.map(str::to_string),
            at,
        };
        match self.change(change).await? {
            Applied::Request(request) => Ok(request),
            other => panic!("a decision came to {other:?}"),
        }
    }

    /// [`Change::Revoke`] of one thing: whether it was new.
    async fn revoke(&self, revocation: &Revocation) -> Result<bool> {
        match self
            .change(Change::Revoke(vec![revocation.clone()]))
            .await?
        {
            Applied::Revoked(added) => Ok(added == 1),
            other => panic!("a revocation came to {other:?}"),
        }
    }

    /// [`Change::AddHost`].
    async fn add_host(
        &self,
        name: &str,
        principals: &[String],
        token_hash: &str,
        expires_at: u64,
        at: u64,
    ) -> Result<()> {
        self.change(Change::AddHost {
            name: name.into(),
            principals: principals.to_vec(),
            token_hash: token_hash.into(),
            expires_at,
            at,
        })
        .await
        .map(drop)
    }

    /// [`Change::AckReview`].
    async fn ack_review(&self, serial: u64, by: &str, note: &str, at: u64) -> Result<Review> {
        let (by, note) = (by.into(), note.into());
        match self
            .change(Change::AckReview {
                serial,
                by,
                note,
                at,
            })
            .await?
        {
            Applied::Review(review) => Ok(review),
            other => panic!("a review came to {other:?}"),
        }
    }
}

impl<S: Store + ?Sized> Changes for S {
    async fn change(&self, change: Change) -> Result<Applied> {
        let record = jit_store::ledger::record(user_record(1, "test"));
        Ok(self.commit(change, record).await?.applied)
    }
}
