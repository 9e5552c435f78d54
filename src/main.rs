//! The `pgqd` command line.

fn main() {
    println!("pgqd {}", env!("CARGO_PKG_VERSION"));
}
