//! `r2gitops import` of the large account: one list per jurisdiction and token family, verify,
//! the permission groups, one read per bucket and configuration block.

use std::time::Instant;

use cf_emulator::Emulator;
use r2gitops::cloudflare::Client;
use r2gitops::config::Jurisdiction;
use r2gitops::observed::bucket_config::ConfigKind;

use crate::{
    BUCKETS_PER_JURISDICTION, CONFIGURED, Check, JURISDICTIONS, LIST_BUCKETS, LIST_TOKENS,
    LIST_USER_TOKENS, PERMISSION_GROUPS, TOKEN_PAGE, TOKENS, VERIFY, client_config,
};

/// `r2gitops import` of the whole account, its 500 configured buckets included:
/// every jurisdiction and both token families listed once, then one read per bucket and
/// configuration block (the only way to learn which buckets hold any).
pub async fn import_case(emu: &Emulator, bucket_pages: u64, token_pages: u64) -> Vec<String> {
    let total_buckets = (BUCKETS_PER_JURISDICTION * JURISDICTIONS.len()) as u64;
    let kinds = ConfigKind::ALL;
    emu.reset_stats();
    let start = Instant::now();
    // The budget is not what is measured here: the calls are counted.
    let client = Client::connect(client_config(emu, 100_000, 8))
        .await
        .expect("connect");
    let snapshot = r2gitops::import::snapshot(
        &client,
        client.account_id(),
        r2gitops::import::Scope {
            jurisdictions: &Jurisdiction::ALL,
            explicit: false,
            blocks: &kinds,
            prefix: "r2gitops:",
            recorded: None,
            concurrency: 8,
        },
    )
    .await
    .expect("import");
    let text = r2gitops::import::render::file(
        &snapshot,
        &r2gitops::import::render::Header {
            command: "r2gitops import".into(),
            generated_at: time::OffsetDateTime::now_utc(),
        },
    );
    let other_jurisdictions = (Jurisdiction::ALL.len() - JURISDICTIONS.len()) as u64;
    let mut bound = vec![
        (VERIFY, 1, "Client::connect".to_string()),
        (
            LIST_BUCKETS,
            bucket_pages + other_jurisdictions,
            format!(
                "the bucket pages + 1 empty page for each of {other_jurisdictions} other jurisdictions"
            ),
        ),
        (
            LIST_TOKENS,
            token_pages,
            format!("ceil({TOKENS}/{TOKEN_PAGE})"),
        ),
        (LIST_USER_TOKENS, 1, "one (empty) page".to_string()),
        (PERMISSION_GROUPS, 1, "once per process".to_string()),
    ];
    for kind in kinds {
        bound.push((
            // The emulator names routes by their pattern; the kind knows its path (leaked:
            // six short names for the life of the benchmark).
            format!("GET /accounts/:id/{}", kind.api_path(":name")).leak(),
            total_buckets,
            format!("one {} read per bucket", kind.key()),
        ));
    }
    let import = Check {
        title: format!(
            "import of {total_buckets} buckets and {TOKENS} tokens with every configuration block (fresh process)"
        ),
        elapsed: start.elapsed(),
        stats: emu.stats(),
        bound,
        bound_line: format!(
            "lower bound: 1 verify + the list pages + 1 permission-group list + {total_buckets} x {} block reads",
            kinds.len()
        ),
    };
    let mut problems = import.print();
    let declared = text.lines().filter(|l| l.starts_with("  - name:")).count();
    let cors = text.lines().filter(|l| *l == "    cors:").count();
    let lifecycle = text.lines().filter(|l| *l == "    lifecycle:").count();
    println!(
        "  wrote {} lines ({} KiB): {declared} entries, {cors} cors and {lifecycle} lifecycle blocks",
        text.lines().count(),
        text.len() / 1024
    );
    if declared != total_buckets as usize + TOKENS || cors != CONFIGURED || lifecycle != CONFIGURED
    {
        problems.push(format!(
            "import: {declared} entries, {cors} cors and {lifecycle} lifecycle blocks; expected {} entries and {CONFIGURED} of each block",
            total_buckets as usize + TOKENS
        ));
    }
    problems
}
