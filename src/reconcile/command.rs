//! `r2gitops reconcile` and `r2gitops rotate`: their flags, the one-shot pass (plan, the
//! checks before an apply, the lease, apply, publish) and what they print.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanOutput {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// Show the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: exit 2 when the file and Cloudflare differ (changes pending, or
    /// something blocked), 0 when they match.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan Cloudflare resources only; ignore output files (for CI machines without them).
    /// Only with --dry-run: an apply that cannot see outputs could not deliver new values.
    #[arg(long)]
    pub skip_outputs: bool,
    /// `text` (terraform-like), `json` (one document, format_version 1) or `markdown` (for
    /// CI job summaries).
    #[arg(long, value_enum, default_value_t = PlanOutput::Text)]
    pub output: PlanOutput,
    /// Apply only if the plan computed now is the one reviewed: its `Plan id:` (plan_id in
    /// JSON). Another plan changes nothing and exits 1.
    #[arg(long, value_name = "ID", value_parser = crate::plan::id::parse)]
    pub expect_plan: Option<String>,
    /// With --state r2://…: how long an apply waits for another runner's lease before it
    /// gives up (0s: at once). A dry run takes no lease.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = crate::args::parse_wait)]
    pub lock_timeout: std::time::Duration,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `r2gitops rotate NAME [--revoke-old]`.
#[derive(Debug, Clone, Args)]
pub struct RotateArgs {
    /// The declared token to rotate.
    pub name: String,
    /// For a leaked secret: delete the old key as soon as the new one is delivered, instead
    /// of after the token's rotation_overlap.
    #[arg(long)]
    pub revoke_old: bool,
    #[command(flatten)]
    pub reconcile: ReconcileArgs,
}

/// The report's line for a publish.
pub(super) fn publish_line(
    published: &Option<Result<crate::publish::Published, String>>,
) -> String {
    match published {
        None => String::new(),
        Some(Ok(crate::publish::Published::Commit { commit, files })) => format!(
            "Published {files} file{} in commit {commit}.\n",
            if *files == 1 { "" } else { "s" }
        ),
        Some(Ok(crate::publish::Published::Unchanged)) => {
            "Published: the branch already holds every output.\n".to_string()
        }
        Some(Err(e)) => format!("[FAILED] publishing: {e}\n"),
    }
}

/// The plan in the chosen format, with the report when there is one.
pub fn render(plan: &Plan, report: Option<&Report>, title: &str, output: PlanOutput) -> String {
    match output {
        PlanOutput::Text | PlanOutput::Markdown => {
            let mut out = if output == PlanOutput::Text {
                render::text(plan, title)
            } else {
                render::markdown(plan, title)
            };
            if let Some(r) = report {
                out.push_str(&report_section(r, output));
            }
            out
        }
        PlanOutput::Json => {
            let mut v = render::json(plan, title);
            v["dry_run"] = serde_json::json!(report.is_none());
            if let Some(r) = report {
                v["report"] = r.json();
            }
            let mut s = serde_json::to_string_pretty(&v).expect("plain data");
            s.push('\n');
            s
        }
    }
}

/// The report as it follows a text or Markdown plan (the plan is printed before the
/// apply starts, the report after it ends).
pub(super) fn report_section(report: &Report, output: PlanOutput) -> String {
    if output == PlanOutput::Markdown {
        format!("\n#### Apply\n\n```\n{}```\n", report.text())
    } else {
        format!("\n{}", report.text())
    }
}

/// Write a rendering to stdout: text in colour where `anstream` allows it (a terminal,
/// `--color`, NO_COLOR, CLICOLOR_FORCE); JSON and Markdown always plain.
pub(super) fn show(text: &str, output: PlanOutput) -> std::io::Result<()> {
    if output == PlanOutput::Text {
        let mut out = anstream::stdout().lock();
        write!(out, "{}", crate::paint::plan(text))?;
        out.flush()
    } else {
        let mut out = std::io::stdout().lock();
        write!(out, "{text}")?;
        out.flush()
    }
}

pub fn cmd(args: &ReconcileArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    cmd_rotating(args, None)
}

/// `r2gitops rotate NAME [--revoke-old]`: a pass that rotates NAME now (with its overlap)
/// and plans nothing else but what that token's rotation needs (its temporary credentials,
/// its retirements); it prints the plan first and takes the lock as an apply does.
pub fn rotate_cmd(args: &RotateArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    cmd_rotating(&args.reconcile, Some((args.name.as_str(), args.revoke_old)))
}

pub(super) fn cmd_rotating(
    args: &ReconcileArgs,
    rotate: Option<(&str, bool)>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let title = args.file.file.display().to_string();
    args.api.preflight()?;
    let desired = match load(args, rotate, &title)? {
        Ok(d) => d,
        Err(code) => return Ok(code),
    };
    let config = args.api.client_config(desired.account_id.as_deref())?;
    let endpoints = S3Endpoints::from_args(
        &args.api.s3_endpoints,
        std::env::var("R2GITOPS_S3_ENDPOINTS").ok().as_deref(),
    )?;
    // A dry run may mint the state's credentials (that leaves nothing behind), never
    // create their parent token.
    let state_api = args
        .state
        .needs_api()
        .then(|| args.api.client_config(desired.account_id.as_deref()))
        .transpose()?;
    let session = args
        .state
        .open(&config.account_id, &endpoints, state_api, !args.dry_run)?;
    runtime()?.block_on(async {
        // Only a run that may write takes the lock (the flock of the local file, or the
        // lease of the state in R2): a dry run changes nothing.
        let (store, _lock) = match &session {
            None => (
                Store::File(desired.settings.state_file.clone()),
                (!args.dry_run)
                    .then(|| crate::state::lock::acquire(&desired.settings.state_file))
                    .transpose()?,
            ),
            Some(s) => (Store::R2(s.clone()), None),
        };
        // Requested by a signal, or by the lease once it can no longer be used.
        let stop = Stop::new();
        let lease = match &session {
            Some(s) if !args.dry_run => Some(Lease::take(s, args.lock_timeout, &stop).await?),
            _ => None,
        };
        // Every way out of the pass releases the lease.
        let result: Result<ExitCode, Box<dyn std::error::Error>> = async {
            let concurrency = config.concurrency;
            let client = Client::connect(config).await?;
            let pass = Pass {
                store,
                desired: &desired,
                endpoints: &endpoints,
            };
            let run = Run {
                concurrency,
                stop: &stop,
                progress: None,
            };
            one_pass(args, rotate, &title, &pass, client, run).await
        }
        .await;
        if let Some(lease) = lease {
            lease.release().await;
        }
        result
    })
}

/// The file, under the operator's policy and pins, with the token `r2gitops rotate` names
/// due now; `Err(code)` once what is wrong with it is printed.
fn load(
    args: &ReconcileArgs,
    rotate: Option<(&str, bool)>,
    title: &str,
) -> Result<Result<Desired, ExitCode>, Box<dyn std::error::Error>> {
    let file = &args.file.file;
    let policy = args
        .api
        .policy
        .load(file)?
        .map(|policy| crate::config::policy::Enforced {
            policy,
            interval: crate::config::cost::DEFAULT_INTERVAL,
        });
    let mut desired = match load_desired_pinned(
        file,
        args.api.output_dir.as_deref(),
        args.api.adopt_rolls(),
        args.api.limits.operator(),
        &args.api.publish.pins(),
        policy.as_ref(),
    ) {
        Ok(d) => d,
        Err(diagnostics) => {
            let mut err = anstream::stderr().lock();
            writeln!(
                err,
                "{}",
                crate::paint::diagnostics(&diagnostics.to_string(), false)
            )?;
            writeln!(
                err,
                "{title}: {} problem{} found; nothing was planned or changed",
                diagnostics.len(),
                if diagnostics.len() == 1 { "" } else { "s" }
            )?;
            return Ok(Err(ExitCode::from(1)));
        }
    };
    if let Some((name, revoke_old)) = rotate {
        if !desired.tokens.iter().any(|t| t.name == name) {
            writeln!(
                anstream::stderr().lock(),
                "{title}: no token named '{}' is declared; nothing was planned or changed",
                crate::plan::render::escape(name)
            )?;
            return Ok(Err(ExitCode::from(1)));
        }
        desired.rotate_now.insert(name.to_string(), revoke_old);
    }
    Ok(Ok(desired))
}

/// Plan; stop at a plan that changed since review, a dry run or a refusal; else apply,
/// publish and report. Prints as `--output` says.
async fn one_pass(
    args: &ReconcileArgs,
    rotate: Option<(&str, bool)>,
    title: &str,
    pass: &Pass<'_>,
    client: Client,
    run: Run<'_>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let auth = args.api.publish.auth();
    let recovery = Recovery {
        auth: auth.clone(),
        restore: !args.dry_run,
    };
    let how = Observe {
        skip_outputs: args.skip_outputs,
        reads: Reads::All,
        recovery: Some(&recovery),
    };
    let Planned {
        mut plan,
        inventory,
    } = pass.plan(&client, how).await?;
    if let Some((name, _)) = rotate {
        only_token(&mut plan, name);
    }
    let shown = |plan: &Plan| show(&render(plan, None, title, args.output), args.output);
    if let Some(reviewed) = &args.expect_plan {
        let id = crate::plan::id::plan_id(&plan);
        if *reviewed != id {
            // The plan it is now, so that the operator sees what changed; then nothing.
            shown(&plan)?;
            return Err(PlanChanged {
                reviewed: reviewed.clone(),
                id,
            }
            .into());
        }
    }
    if !args.skip_outputs {
        plan.publish = pass.publish_preview(&inventory, &plan, &auth).await;
    }
    if args.dry_run {
        shown(&plan)?;
        let code = if plan.refused.is_some() {
            1
        } else if args.detailed_exitcode && plan.differs() {
            2
        } else {
            0
        };
        return Ok(ExitCode::from(code));
    }
    if plan.refused.is_some() {
        shown(&plan)?;
        return Ok(ExitCode::from(1));
    }
    if args.output != PlanOutput::Json {
        shown(&plan)?;
    }
    let on_stop = run.stop.clone();
    crate::signals::spawn(Box::new(move || on_stop.request()), None)?;
    let progress = if args.output == PlanOutput::Text {
        crate::progress::TermProgress::for_terminal(plan.steps.len())
    } else {
        None
    };
    let run = Run {
        progress: progress.as_ref().map(|p| p as &dyn crate::apply::Progress),
        ..run
    };
    let Applied { report, inventory } = pass.apply(client, &plan, inventory, run).await;
    if let Some(p) = &progress {
        p.finish();
    }
    let published = pass.publish(&inventory, &plan, &auth).await;
    show(
        &report_text(&plan, &report, &published, title, args.output),
        args.output,
    )?;
    // Steps left unstarted because the lease lapsed: the account is not as declared, and
    // CI must not read this run as a success.
    let cut_short = pass.store.fenced()
        && report
            .steps
            .iter()
            .any(|s| matches!(s.outcome, crate::apply::Outcome::Skipped(_)));
    let failed = report.has_errors() || matches!(published, Some(Err(_))) || cut_short;
    Ok(ExitCode::from(if failed { 1 } else { 0 }))
}

/// What an apply prints: the report and what was published; in JSON, the whole document
/// with `published`.
fn report_text(
    plan: &Plan,
    report: &Report,
    published: &Option<Result<crate::publish::Published, String>>,
    title: &str,
    output: PlanOutput,
) -> String {
    if output != PlanOutput::Json {
        let mut text = report_section(report, output);
        text.push_str(&publish_line(published));
        return text;
    }
    let mut text = render(plan, Some(report), title, output);
    if let Some(outcome) = published
        && let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text)
    {
        v["published"] = match outcome {
            Ok(crate::publish::Published::Commit { commit, files }) => {
                serde_json::json!({"result": "commit", "commit": commit, "files": files})
            }
            Ok(crate::publish::Published::Unchanged) => {
                serde_json::json!({"result": "unchanged"})
            }
            Err(e) => serde_json::json!({"result": "failure", "error": e}),
        };
        text = serde_json::to_string_pretty(&v).expect("plain data");
        text.push('\n');
    }
    text
}

/// Keep what `r2gitops rotate NAME` does: NAME's token steps (its rotation, its old keys'
/// retirements) and the temporary credentials issued under it.
pub(super) fn only_token(plan: &mut Plan, name: &str) {
    plan.steps.retain(|s| match s {
        crate::plan::Step::IssueTemporary { parent, .. } => parent == name,
        s => s.kind() == crate::plan::Kind::Token && s.object_name() == name,
    });
}
