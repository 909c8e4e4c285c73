//! Throughput of the transport (filled in below).

fn main() {}
