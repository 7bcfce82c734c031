//! Bucket configuration: a one-shot pass reads exactly the declared sub-resources; the daemon
//! re-reads each once an hour within the budget.

use std::time::Instant;

use cf_emulator::Emulator;
use r2gitops::cloudflare::Client;
use r2gitops::inventory::Inventory;
use r2gitops::observe::{ConfigCache, Reads};

use crate::{
    CF_BUDGET_PER_HOUR, CONFIGURED, GET_CORS, GET_LIFECYCLE, INTERVAL, STEADY_GOAL, client_config,
    desired_yaml_with,
};

/// 500 buckets declare CORS and lifecycle.
pub async fn config_case(
    emu: &Emulator,
    dir: &std::path::Path,
    inventory: &Inventory,
    list_pages: u64,
) -> Vec<String> {
    let mut problems = Vec::new();
    let path = dir.join("configured.yaml");
    std::fs::write(&path, desired_yaml_with(true)).unwrap();
    let desired =
        r2gitops::reconcile::load_desired(&path, None, r2gitops::config::AdoptRolls::Refused)
            .unwrap_or_else(|e| panic!("generated file is invalid:\n{e}"));
    let declared = desired
        .buckets
        .iter()
        .filter(|b| b.config.manages_any())
        .count();
    assert_eq!(declared, CONFIGURED);
    let reads = 2 * CONFIGURED as u64;
    println!(
        "bucket configuration: {CONFIGURED} of the {} buckets declare cors and lifecycle",
        desired.buckets.len()
    );

    // One-shot reconcile: a fresh process reads everything it manages.
    emu.reset_stats();
    let start = Instant::now();
    // The budget is not what is measured here: the calls are counted.
    let client = Client::connect(client_config(emu, 100_000, 4))
        .await
        .expect("connect");
    let observed = r2gitops::observe::observe(&client, client.account_id(), &desired, inventory)
        .await
        .expect("one-shot observation");
    let stats = emu.stats();
    let one_shot = stats.total;
    println!(
        "  one-shot pass: {one_shot} calls in {:.1} s = 1 verify + {list_pages} list pages + 1 permission-group list + {} cors + {} lifecycle",
        start.elapsed().as_secs_f64(),
        stats.by_route.get(GET_CORS).copied().unwrap_or(0),
        stats.by_route.get(GET_LIFECYCLE).copied().unwrap_or(0),
    );
    let want = 1 + list_pages + 1 + reads;
    if one_shot != want || observed.bucket_configs.len() != CONFIGURED {
        problems.push(format!(
            "one-shot: {one_shot} calls for {} buckets read; expected {want} for {CONFIGURED}",
            observed.bucket_configs.len()
        ));
    }
    let undeclared = stats
        .by_route
        .iter()
        .filter(|(r, _)| r.contains("/:name/") && *r != GET_CORS && *r != GET_LIFECYCLE)
        .count();
    if undeclared > 0 {
        problems.push("one-shot: read a sub-resource the file does not declare".into());
    }
    // The converged plan: what the daemon then sees needs nothing.
    let plan = r2gitops::plan::diff(&r2gitops::plan::diff::Input {
        desired: &desired,
        observed: &observed,
        inventory,
        outputs: &Default::default(),
        details: &Default::default(),
        now: time::OffsetDateTime::now_utc(),
        skip_outputs: true,
        temporary: &Default::default(),
    });
    let config_steps = plan
        .steps
        .iter()
        .filter(|s| matches!(s, r2gitops::plan::Step::ConfigureBucket { .. }))
        .count();
    if config_steps != 0 {
        problems.push(format!(
            "false drift: {config_steps} configuration steps on a converged account"
        ));
    }

    // The daemon: its first pass at t0 reads everything (as above), then a pass every
    // 10 minutes on a simulated clock. Hour 2 is its steady state.
    let t0 = std::time::Instant::now();
    let mut cache = ConfigCache::new(desired.settings.config_resync);
    let mut per_pass = Vec::new();
    for k in 0..=12u32 {
        emu.reset_stats();
        let now = t0 + INTERVAL * k;
        r2gitops::observe::observe_with(
            &client,
            client.account_id(),
            &desired,
            inventory,
            Reads::Cached {
                cache: &mut cache,
                now,
            },
        )
        .await
        .expect("daemon pass");
        let s = emu.stats();
        per_pass.push((
            s.total,
            s.by_route.get(GET_CORS).copied().unwrap_or(0)
                + s.by_route.get(GET_LIFECYCLE).copied().unwrap_or(0),
        ));
    }
    let hour2 = &per_pass[7..=12];
    let steady: u64 = hour2.iter().map(|(t, _)| t).sum();
    let config: u64 = hour2.iter().map(|(_, c)| c).sum();
    let share = steady as f64 / CF_BUDGET_PER_HOUR as f64;
    println!(
        "  daemon, first pass: {} calls ({} configuration reads)",
        per_pass[0].0, per_pass[0].1
    );
    println!(
        "  daemon, configuration reads per 10-minute pass: {:?}",
        per_pass[1..].iter().map(|(_, c)| c).collect::<Vec<_>>()
    );
    println!(
        "  daemon, steady state: {steady} calls per hour ({} list pages + {config} configuration reads) of Cloudflare's {CF_BUDGET_PER_HOUR} = {:.1}% (goal <= {:.0}%)",
        steady - config,
        share * 100.0,
        STEADY_GOAL * 100.0
    );
    if config != reads {
        problems.push(format!(
            "daemon: {config} configuration reads in an hour; each of the {reads} once is expected"
        ));
    }
    if per_pass[1..6].iter().any(|(_, c)| *c != 0) {
        problems.push("daemon: re-read within config_resync of the first read".into());
    }
    let (lo, hi) = hour2
        .iter()
        .fold((u64::MAX, 0), |(lo, hi), (_, c)| (lo.min(*c), hi.max(*c)));
    if hi > lo + 4 {
        problems.push(format!(
            "daemon: re-reads not spread evenly ({lo}..{hi} per pass)"
        ));
    }
    if share > STEADY_GOAL {
        problems.push(format!(
            "daemon: {:.1}% of Cloudflare's budget in steady state, over the {:.0}% goal",
            share * 100.0,
            STEADY_GOAL * 100.0
        ));
    }
    problems
}
