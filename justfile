# jit: just-in-time SSH access. `just demo` shows it working; `just test` runs everything.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Build every crate (debug).
build:
    cargo build --workspace --locked

# Start a CA, a throwaway sshd on 127.0.0.1 and a demo user, then `jit ssh` into it.
demo: deps build
    bash deploy/demo/demo.sh

# Everything CI runs: formatting, lints, all tests (real sshd, ssh, ssh-agent, ssh-keygen).
test: deps
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cargo test --workspace --locked --no-fail-fast

# Install what the tests and the demo need when it is missing (OpenSSH client and server).
deps:
    bash deploy/dev/install-deps.sh

# Format the code.
fmt:
    cargo fmt --all

# Benchmark certificate issuance on 127.0.0.1 (release jitd; flags go to jit-bench, see docs/benchmarks.md).
bench *ARGS:
    cargo build --release -p jitd -p jit-bench
    ./target/release/jit-bench --jitd ./target/release/jitd {{ARGS}}
