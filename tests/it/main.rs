//! Integration tests: one binary, one module per area, every test against a
//! real throwaway PostgreSQL cluster from [`pgqd::tempcluster`].

mod daemon;
mod engine;
mod harness;
