//! Fault injection: producers, consumers and the daemon under crashes,
//! restarts and kills, proving no event is lost, duplicated or resurrected.
