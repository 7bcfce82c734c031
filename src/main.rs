//! Entry point: parse, run, print the error chain once, map to an exit code.

use std::process::ExitCode;

/// Every heap block is wiped when freed. Our own secret buffers are
/// wiped explicitly, but buffers inside the HTTP stack (a connection's read buffer) and
/// inside age (its 64 KiB plaintext chunk) are freed as they are, and a core of the daemon
/// still held the last created or rolled value without this.
#[global_allocator]
static ALLOC: zeroizing_alloc::ZeroAlloc<std::alloc::System> =
    zeroizing_alloc::ZeroAlloc(std::alloc::System);

fn main() -> ExitCode {
    r2gitops::cli::main()
}
