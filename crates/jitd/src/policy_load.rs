//! The policy in force is part of the story the log tells: jitd records each policy it
//! loads (`started`, `reloaded`) with the policy's hash and role names.

use jit_log::{Event, PolicyLoad, Record};

use crate::state::AppState;

/// Record that the policy in `state` is in force (`action`: `started` or `reloaded`;
/// `previous_hash`: the hash of the policy it replaced).
pub async fn record(
    state: &AppState,
    action: &str,
    previous_hash: Option<String>,
) -> Result<u64, jit_store::Error> {
    let policy = &state.policy;
    let record = Record {
        time: state.clock.now(),
        policy_hash: policy.hash().to_string(),
        event: Event::Policy(PolicyLoad {
            action: action.into(),
            roles: policy.roles().map(|role| role.name.clone()).collect(),
            previous_hash,
        }),
    };
    state.store.append_log(&record).await
}
