//! Producer triggers, `pgq_ext` and `pgq_coop` against a real cluster.
