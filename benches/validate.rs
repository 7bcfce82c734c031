//! Prints how long loading and validating a large desired-state file takes: 5,000 buckets
//! and 500 tokens (target: under 200 ms in release). Run: `cargo bench --bench validate`.
//! A benchmark, not a test: it prints figures and asserts nothing about time.

#[path = "common/table.rs"]
mod table;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use r2gitops::config;

const BUCKETS: usize = 5_000;
const TOKENS: usize = 500;
const JURISDICTIONS: [&str; 4] = ["default", "eu", "fedramp", "us"];
const RECIPIENT: &str = "age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w";

fn generate() -> String {
    let mut s = format!(
        "version: 1\naccount_id: 023e105f4ecef8ad9ca31a8372d0c353\nsettings:\n  prune: true\n  max_deletions: 25\n  recipients: [\"{RECIPIENT}\"]\nbuckets:\n"
    );
    for i in 0..BUCKETS {
        let j = JURISDICTIONS[i % 4];
        writeln!(
            s,
            "  - name: bucket-{i:05}\n    jurisdiction: {j}\n    location_hint: weur\n    storage_class: Standard\n    protect: true"
        )
        .unwrap();
    }
    s.push_str("tokens:\n");
    for t in 0..TOKENS {
        // Ten buckets of one jurisdiction each (bucket index = jurisdiction mod 4).
        let j = t % 4;
        let buckets: Vec<String> = (0..10)
            .map(|k| format!("bucket-{:05}", (t * 40 + k * 4 + j) % BUCKETS))
            .collect();
        writeln!(
            s,
            "  - name: token-{t:04}\n    access: {}\n    buckets: [{}]\n    not_before: 2026-12-01T00:00:00Z\n    expires_on: 2027-06-30T00:00:00Z\n    ip: {{ allow: [203.0.113.0/24, \"2001:db8::/32\"], deny: [203.0.113.7/32] }}\n    rotate_every: 90d\n    output: {{ file: tokens/token-{t:04}.env.age, format: env }}",
            if t % 2 == 0 { "object-read" } else { "object-read-write" },
            buckets.join(", ")
        )
        .unwrap();
    }
    s
}

fn main() {
    let dir = std::env::temp_dir().join(format!("r2gitops-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r2gitops.yaml");
    let text = generate();
    std::fs::write(&path, &text).unwrap();

    // Warm the page cache and the lazily built schema.
    let desired = config::load(&path).unwrap_or_else(|e| panic!("generated file is invalid:\n{e}"));
    assert_eq!(
        (desired.buckets.len(), desired.tokens.len()),
        (BUCKETS, TOKENS)
    );

    let runs = 20;
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let d = config::load(&path).unwrap();
            let elapsed = start.elapsed();
            std::hint::black_box(d);
            elapsed
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "validate: {BUCKETS} buckets, {TOKENS} tokens, {} KiB: median {:.1} ms, min {:.1} ms, max {:.1} ms over {runs} runs (target < 200 ms)",
        text.len() / 1024,
        ms(times[runs / 2]),
        ms(times[0]),
        ms(times[runs - 1]),
    );

    let median = ms(times[runs / 2]);
    table::row(
        &format!(
            "`validate` of a {BUCKETS}-bucket, {TOKENS}-token file ({} KiB)",
            text.len() / 1024
        ),
        &format!("median {median:.0} ms"),
        "< 200 ms",
        Some(median < 200.0),
        "cargo bench --bench validate",
    );

    // The slow path: a structural error makes load build the located tree and walk it
    // against the schema to report every such problem.
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, text.replace("    protect: true", "    protec: true")).unwrap();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let e = config::load(&bad).unwrap_err();
            let elapsed = start.elapsed();
            // The first 100 are kept and printed; `len` counts the rest too.
            assert_eq!(e.len(), BUCKETS, "every problem counted once");
            elapsed
        })
        .collect();
    times.sort();
    println!(
        "validate: same file with {BUCKETS} unknown fields (all reported): median {:.1} ms, min {:.1} ms, max {:.1} ms",
        ms(times[runs / 2]),
        ms(times[0]),
        ms(times[runs - 1]),
    );
    std::fs::remove_dir_all(&dir).ok();
}
