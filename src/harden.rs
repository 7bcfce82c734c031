//! Process hardening applied at start by every command: no core dumps. A core file, or a
//! debugger attached by the same unprivileged user, would show whatever secret the process
//! holds at that moment (the API token, a value being written). `RLIMIT_CORE` 0 stops the
//! kernel writing cores; `PR_SET_DUMPABLE` 0 also stops ptrace by non-root users and makes
//! `/proc/<pid>/mem` and friends root-only. Root can still attach: it is trusted anyway.
//!
//! Safe wrappers only (`rustix`); `unsafe` is forbidden in this crate.

use rustix::process::{DumpableBehavior, Resource, Rlimit, set_dumpable_behavior, setrlimit};

/// Turn core dumps and same-user ptrace off for the rest of the process's life.
pub fn forbid_core_dumps() -> std::io::Result<()> {
    setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )?;
    set_dumpable_behavior(DumpableBehavior::NotDumpable)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::process::{dumpable_behavior, getrlimit};

    // This turns core dumps off for the unit-test process too, which is harmless.
    #[test]
    fn after_hardening_the_process_is_not_dumpable_and_may_not_write_a_core() {
        forbid_core_dumps().unwrap();
        assert_eq!(dumpable_behavior().unwrap(), DumpableBehavior::NotDumpable);
        assert_eq!(
            getrlimit(Resource::Core),
            Rlimit {
                current: Some(0),
                maximum: Some(0)
            }
        );
    }
}
