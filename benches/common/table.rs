//! One row of the benchmark table that `scripts/bench.sh` gathers from every bench and the
//! performance page (docs/performance.md) shows: what was measured, the figure, its goal, whether it met it, and the
//! command that reproduces it. Rows are printed as `BENCH|what|figure|goal|verdict|command`.
#![allow(dead_code)]

pub fn row(what: &str, figure: &str, goal: &str, met: Option<bool>, command: &str) {
    let verdict = match met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "-",
    };
    println!("BENCH|{what}|{figure}|{goal}|{verdict}|{command}");
}

/// Peak resident memory of a process, in kB (`VmHWM`), while it runs.
pub fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

pub fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// Run `cmd` to the end while sampling its peak RSS every few milliseconds: (exit status,
/// peak kB, wall time).
pub fn run_sampled(
    mut cmd: std::process::Command,
) -> (std::process::ExitStatus, u64, std::time::Duration) {
    let start = std::time::Instant::now();
    let mut child = cmd.spawn().expect("spawn");
    let mut peak = 0;
    loop {
        if let Some(kb) = vm_hwm_kb(child.id()) {
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            return (status, peak, start.elapsed());
        }
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
}
