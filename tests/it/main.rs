//! Integration tests: one binary, one module per area, every test against a
//! real throwaway PostgreSQL cluster from [`pgqd::tempcluster`].

mod admin;
mod cli;
mod common;
mod compat;
mod daemon;
mod engine;
mod faults;
mod harness;
mod observe;
mod sqlext;
