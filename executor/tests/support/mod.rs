//! Shared helpers of the executor's integration tests: the loopback SSH hosts.
pub mod hosts;
