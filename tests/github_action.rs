//! The composite GitHub Action (`action.yml`) run as the runner runs it, with no GitHub:
//! each step's `run:` under `bash --noprofile --norc -eo pipefail`, its `env:` evaluated,
//! and the runner's files (`GITHUB_OUTPUT`, `GITHUB_PATH`, `GITHUB_STEP_SUMMARY`, the tool
//! cache). A loopback server plays the release download (a real archive of
//! `scripts/release.sh` and its `SHA256SUMS`) and GitHub's REST API for issue comments,
//! recording every request; the plan comes from the bundled emulator.
//!
//! The archive packs this test build's binary (`release.sh --binary`), or, with
//! R2GITOPS_TEST_RELEASE_DIR set, the static release archive found there (`.ci/run` does
//! that after building it).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const TOKEN: &str = "ghs_test-token-of-the-job";
const REPOSITORY: &str = "example-org/r2gitops";

/// The release directory the server serves: an archive and its SHA256SUMS.
fn release_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("R2GITOPS_TEST_RELEASE_DIR") {
            return PathBuf::from(dir);
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("action-release");
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new("bash")
            .arg(common::root().join("scripts/release.sh"))
            .args(["--binary", env!("CARGO_BIN_EXE_r2gitops"), VERSION])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "release.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .clone()
}

// ---- the loopback server: release downloads and GitHub's issue comments ----

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    query: String,
    authorization: Option<String>,
    body: String,
}

#[derive(Default)]
struct GitHub {
    requests: Vec<Request>,
    /// (pull request, comment id, body)
    comments: Vec<(u64, u64, String)>,
    next_id: u64,
    /// Serve the archive with one byte changed.
    tamper: bool,
}

#[derive(Clone)]
struct Server {
    url: String,
    state: Arc<Mutex<GitHub>>,
}

impl Server {
    async fn start() -> Server {
        let state = Arc::new(Mutex::new(GitHub {
            next_id: 1000,
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { url, state }
    }

    fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    fn comments(&self, pr: u64) -> Vec<(u64, String)> {
        let s = self.state.lock().unwrap();
        s.comments
            .iter()
            .filter(|c| c.0 == pr)
            .map(|c| (c.1, c.2.clone()))
            .collect()
    }

    fn forget_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    fn calls(&self, method: &str, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .count()
    }
}

async fn handle(
    axum::extract::State(state): axum::extract::State<Arc<Mutex<GitHub>>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, Vec<u8>) {
    use axum::http::StatusCode;
    let mut s = state.lock().unwrap();
    let req = Request {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        authorization: headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string()),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    s.requests.push(req.clone());
    let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let release = format!("{REPOSITORY}/releases/download/v{VERSION}/");
    if let Some(name) = req.path.strip_prefix(&format!("/{release}")) {
        let Ok(mut bytes) = std::fs::read(release_dir().join(name)) else {
            return (StatusCode::NOT_FOUND, b"Not Found".to_vec());
        };
        if s.tamper && name.ends_with(".tar.gz") {
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x01;
        }
        return (StatusCode::OK, bytes);
    }
    if req.authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return (
            StatusCode::UNAUTHORIZED,
            b"{\"message\":\"Bad credentials\"}".to_vec(),
        );
    }
    let user = json!({"login": "github-actions[bot]", "type": "Bot"});
    match (req.method.as_str(), parts.as_slice()) {
        ("GET", ["repos", "acme", "infra", "issues", pr, "comments"]) => {
            let pr: u64 = pr.parse().unwrap();
            let q: BTreeMap<&str, usize> = req
                .query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k, v.parse().unwrap()))
                .collect();
            let (per, page) = (q["per_page"], q["page"]);
            let all: Vec<Value> = s
                .comments
                .iter()
                .filter(|c| c.0 == pr)
                .map(|c| json!({"id": c.1, "body": c.2, "user": user}))
                .collect();
            let page: Vec<Value> = all.into_iter().skip((page - 1) * per).take(per).collect();
            (StatusCode::OK, serde_json::to_vec(&page).unwrap())
        }
        ("POST", ["repos", "acme", "infra", "issues", pr, "comments"]) => {
            let body: Value = serde_json::from_str(&req.body).unwrap();
            let id = s.next_id;
            s.next_id += 1;
            let text = body["body"].as_str().unwrap().to_string();
            s.comments.push((pr.parse().unwrap(), id, text.clone()));
            (
                StatusCode::CREATED,
                serde_json::to_vec(&json!({"id": id, "body": text, "user": user})).unwrap(),
            )
        }
        ("PATCH", ["repos", "acme", "infra", "issues", "comments", id]) => {
            let id: u64 = id.parse().unwrap();
            let body: Value = serde_json::from_str(&req.body).unwrap();
            let text = body["body"].as_str().unwrap().to_string();
            match s.comments.iter_mut().find(|c| c.1 == id) {
                Some(c) => {
                    c.2 = text.clone();
                    (
                        StatusCode::OK,
                        serde_json::to_vec(&json!({"id": id, "body": text})).unwrap(),
                    )
                }
                None => (StatusCode::NOT_FOUND, b"{}".to_vec()),
            }
        }
        _ => (
            StatusCode::NOT_FOUND,
            b"{\"message\":\"Not Found\"}".to_vec(),
        ),
    }
}

// ---- the runner ----

struct Job {
    sandbox: common::Sandbox,
    server: Server,
    tool_cache: PathBuf,
    temp: PathBuf,
    event: PathBuf,
}

#[derive(Debug, Default)]
struct Run {
    /// (step name, exit code, stdout + stderr), in order, up to the first failure.
    steps: Vec<(String, i32, String)>,
    outputs: BTreeMap<String, String>,
    /// What the steps added to PATH (`GITHUB_PATH`).
    path: Vec<String>,
    summary: String,
}

impl Run {
    fn failed(&self) -> Option<&(String, i32, String)> {
        self.steps.iter().find(|s| s.1 != 0)
    }

    fn log(&self, step: &str) -> &str {
        &self.steps.iter().find(|s| s.0 == step).expect(step).2
    }
}

impl Job {
    async fn new() -> Job {
        let sandbox = common::Sandbox::new().await;
        let server = Server::start().await;
        let root = sandbox.dir.path().to_path_buf();
        let job = Job {
            tool_cache: root.join("runner/tool-cache"),
            temp: root.join("runner/temp"),
            event: root.join("runner/event.json"),
            sandbox,
            server,
        };
        std::fs::create_dir_all(&job.tool_cache).unwrap();
        std::fs::create_dir_all(&job.temp).unwrap();
        job.pull_request(7);
        job
    }

    fn pull_request(&self, number: u64) {
        let event = json!({"pull_request": {"number": number, "head": {"sha": "0123abc"}}});
        std::fs::write(&self.event, event.to_string()).unwrap();
    }

    fn workspace(&self) -> &Path {
        self.sandbox.dir.path()
    }

    /// The environment a hosted runner gives a step: its variables, the job's Cloudflare
    /// secrets, and a PATH on which no r2gitops is found but the action's.
    fn base_env(&self) -> Vec<(String, String)> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::split_paths(&path)
            .filter(|d| !d.join("r2gitops").exists())
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(":");
        let e = &self.sandbox.emu;
        [
            ("PATH", path),
            ("HOME", self.workspace().display().to_string()),
            ("CI", "true".into()),
            ("GITHUB_ACTIONS", "true".into()),
            ("RUNNER_OS", "Linux".into()),
            ("RUNNER_ARCH", "X64".into()),
            ("RUNNER_TOOL_CACHE", self.tool_cache.display().to_string()),
            ("RUNNER_TEMP", self.temp.display().to_string()),
            ("GITHUB_ACTION_PATH", common::root().display().to_string()),
            ("GITHUB_WORKSPACE", self.workspace().display().to_string()),
            ("GITHUB_EVENT_NAME", "pull_request".into()),
            ("GITHUB_EVENT_PATH", self.event.display().to_string()),
            ("GITHUB_REPOSITORY", "acme/infra".into()),
            ("GITHUB_SERVER_URL", self.server.url.clone()),
            ("GITHUB_API_URL", self.server.url.clone()),
            ("CLOUDFLARE_API_BASE_URL", e.api_url().to_string()),
            ("CLOUDFLARE_API_TOKEN", e.admin_token().to_string()),
            ("CLOUDFLARE_ACCOUNT_ID", e.account_id().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Run action.yml's steps with these inputs (`with:`), as the runner would.
    fn run(&self, with: &[(&str, &str)]) -> Run {
        let action: Value = serde_saphyr::from_str(
            &std::fs::read_to_string(common::root().join("action.yml")).unwrap(),
        )
        .unwrap();
        assert_eq!(action["runs"]["using"], "composite");
        let with: BTreeMap<&str, &str> = with.iter().copied().collect();
        for k in with.keys() {
            assert!(action["inputs"].get(*k).is_some(), "no input {k}");
        }
        let mut ctx = Context {
            inputs: BTreeMap::new(),
            steps: BTreeMap::new(),
        };
        for (name, spec) in action["inputs"].as_object().unwrap() {
            let value = match with.get(name.as_str()) {
                Some(v) => v.to_string(),
                None => ctx.eval(spec["default"].as_str().unwrap_or("")),
            };
            ctx.inputs.insert(name.clone(), value);
        }
        let mut run = Run::default();
        let mut base = self.base_env();
        for (i, step) in action["runs"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let name = step["name"].as_str().unwrap().to_string();
            assert_eq!(step["shell"], "bash", "{name}");
            assert!(
                step.get("if").is_none(),
                "{name}: this runner evaluates no if:"
            );
            let files = self.temp.join(format!("step-{i}"));
            let _ = std::fs::remove_dir_all(&files);
            std::fs::create_dir_all(&files).unwrap();
            let script = files.join("run.sh");
            std::fs::write(&script, ctx.eval(step["run"].as_str().unwrap())).unwrap();
            let file = |n: &str| {
                let p = files.join(n);
                std::fs::write(&p, "").unwrap();
                p
            };
            let (output, path, summary) = (file("output"), file("path"), file("summary"));
            let mut cmd = Command::new("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script)
                .current_dir(self.workspace())
                .env_clear()
                .envs(base.iter().map(|(k, v)| (k, v)))
                .env("GITHUB_OUTPUT", &output)
                .env("GITHUB_PATH", &path)
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("GITHUB_ENV", file("env"));
            if let Some(env) = step["env"].as_object() {
                for (k, v) in env {
                    cmd.env(k, ctx.eval(v.as_str().unwrap()));
                }
            }
            let out = cmd.output().unwrap();
            let log = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!("--- step {name}: {:?}\n{log}", out.status.code());
            let code = out.status.code().unwrap_or(-1);
            run.steps.push((name, code, log));
            run.summary
                .push_str(&std::fs::read_to_string(&summary).unwrap());
            if let Some(id) = step["id"].as_str() {
                ctx.steps.insert(
                    id.to_string(),
                    parse_outputs(&std::fs::read_to_string(&output).unwrap()),
                );
            }
            for dir in std::fs::read_to_string(&path).unwrap().lines() {
                run.path.push(dir.to_string());
                let p = &mut base.iter_mut().find(|(k, _)| k == "PATH").unwrap().1;
                *p = format!("{dir}:{p}");
            }
            if code != 0 {
                return run;
            }
        }
        for (name, spec) in action["outputs"].as_object().unwrap() {
            run.outputs
                .insert(name.clone(), ctx.eval(spec["value"].as_str().unwrap()));
        }
        run
    }

    /// What the action's plan step runs, run here directly against the emulator.
    fn markdown_plan(&self, file: &str) -> String {
        let out = self
            .sandbox
            .r2gitops_without_file(&[
                "reconcile",
                "--dry-run",
                "--skip-outputs",
                "--output",
                "markdown",
                "--file",
                file,
            ])
            .current_dir(self.workspace())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }
}

struct Context {
    inputs: BTreeMap<String, String>,
    steps: BTreeMap<String, BTreeMap<String, String>>,
}

impl Context {
    /// `${{ … }}` as the runner fills it in, for the expressions action.yml may use; any
    /// other expression fails the test (this runner would get it wrong).
    fn eval(&self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closed expression") + start;
            let expr = rest[start + 3..end].trim();
            let parts: Vec<&str> = expr.split('.').collect();
            out.push_str(&match parts.as_slice() {
                ["inputs", name] => self.inputs[*name].clone(),
                ["steps", id, "outputs", name] => self
                    .steps
                    .get(*id)
                    .and_then(|o| o.get(*name))
                    .cloned()
                    .unwrap_or_default(),
                ["github", "token"] => TOKEN.to_string(),
                _ => panic!("action.yml uses an expression this runner does not know: {expr}"),
            });
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }
}

/// `GITHUB_OUTPUT`: `name=value` lines and `name<<DELIMITER` blocks.
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delim).collect();
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        }
    }
    out
}

fn archive_name() -> String {
    let sums = std::fs::read_to_string(release_dir().join("SHA256SUMS")).unwrap();
    sums.lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .find(|n| n.contains("x86_64-unknown-linux"))
        .expect("an x86_64 Linux archive in SHA256SUMS")
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

const FILE: &str = r#"
version: 1
settings:
  recipients: ["{recipient}"]
buckets:
  - name: media
tokens:
  - name: uploader
    access: object-read-write
    buckets: [media]
    output: { file: uploader.env.age, format: env }
  - name: contractor
    access: object-read
    buckets: [media]
    expires_on: "2020-01-01T00:00:00Z"
    output: { file: contractor.env.age, format: env }
"#;

fn marker(file: &str) -> String {
    format!("<!-- r2gitops:plan:{file} -->")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_run_installs_the_verified_binary_and_comments_and_the_second_updates_that_comment()
 {
    let job = Job::new().await;
    job.sandbox.write(FILE);
    let j = Arc::new(job);
    let job = j.clone();
    let run = tokio::task::spawn_blocking(move || job.run(&[]))
        .await
        .unwrap();
    let job = &j;
    assert!(run.failed().is_none(), "{run:#?}");

    // Installed: downloaded, verified, in the tool cache, first on PATH.
    let archive = archive_name();
    let cache = job.tool_cache.join(format!("r2gitops/{VERSION}/x64"));
    assert_eq!(run.path, [cache.display().to_string()]);
    assert!(
        job.tool_cache
            .join(format!("r2gitops/{VERSION}/x64.complete"))
            .exists()
    );
    let install = run.log("Install r2gitops");
    let sum = sha256_hex(&std::fs::read(release_dir().join(&archive)).unwrap());
    assert!(
        install.contains(&format!("{archive}: SHA-256 {sum}, as SHA256SUMS says")),
        "{install}"
    );
    let downloads = format!("/{REPOSITORY}/releases/download/v{VERSION}/");
    assert_eq!(
        job.server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with(&downloads))
            .map(|r| (
                r.path.trim_start_matches(&downloads).to_string(),
                r.authorization.clone()
            ))
            .collect::<Vec<_>>(),
        [("SHA256SUMS".to_string(), None), (archive.clone(), None)],
        "the sums, then the archive, and the job's token never sent to a download"
    );

    // Outputs.
    assert_eq!(run.outputs["exitcode"], "2");
    assert_eq!(run.outputs["has-changes"], "true");
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&run.outputs["plan-json"]).unwrap()).unwrap();
    let id = plan["plan_id"].as_str().unwrap();

    // One comment, with the marker, holding the plan reconcile prints.
    let comments = job.server.comments(7);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let (comment_id, body) = &comments[0];
    let md = job.markdown_plan("r2gitops.yaml");
    assert!(md.contains(&format!("Plan id: `{id}`")), "{md}");
    assert!(
        body.starts_with(&format!("{}\n{md}", marker("r2gitops.yaml"))),
        "comment:\n{body}\nplan:\n{md}"
    );
    assert!(body.contains(&format!(
        "**Changes pending.** `r2gitops reconcile --expect-plan {id}` applies this plan and no other."
    )));
    assert!(run.summary.contains(&md), "the plan is in the job summary");
    // The blocked token is an annotation.
    assert!(
        run.log("Validate and plan")
            .contains("::warning title=r2gitops blocked::token contractor: "),
        "{}",
        run.log("Validate and plan")
    );
    assert!(run.log("Exit code").contains("changes pending"));
    assert_eq!(
        job.server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/repos/"))
            .map(|r| (r.method.as_str(), r.authorization.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("GET", Some(&*format!("Bearer {TOKEN}"))),
            ("POST", Some(&*format!("Bearer {TOKEN}")))
        ]
    );

    // A second run (another push): the cached binary, the same comment updated.
    job.server.forget_requests();
    job.sandbox
        .write(&FILE.replace("  - name: media\n", "  - name: media\n  - name: logs\n"));
    let job2 = j.clone();
    let again = tokio::task::spawn_blocking(move || job2.run(&[]))
        .await
        .unwrap();
    assert!(again.failed().is_none(), "{again:#?}");
    assert!(
        again
            .log("Install r2gitops")
            .contains("from the tool cache")
    );
    assert_eq!(
        job.server.calls("GET", &downloads),
        0,
        "nothing downloaded again"
    );
    assert_eq!(job.server.calls("POST", "/repos/"), 0, "no second comment");
    assert_eq!(job.server.calls("PATCH", "/repos/"), 1);
    let comments = job.server.comments(7);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].0, *comment_id, "the same comment");
    assert!(comments[0].1.contains("+ create bucket logs (default)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_archive_fails_the_install_naming_both_sums() {
    let job = Job::new().await;
    job.sandbox.write(FILE);
    job.server.state.lock().unwrap().tamper = true;
    let j = Arc::new(job);
    let job = j.clone();
    let run = tokio::task::spawn_blocking(move || job.run(&[]))
        .await
        .unwrap();
    let job = &j;

    let archive = archive_name();
    let mut bytes = std::fs::read(release_dir().join(&archive)).unwrap();
    let want = sha256_hex(&bytes);
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    let have = sha256_hex(&bytes);
    let (step, code, log) = run.failed().expect("the install fails");
    assert_eq!((step.as_str(), *code), ("Install r2gitops", 1));
    assert!(
        log.contains(&format!(
            "::error title=r2gitops install::{archive} does not match SHA256SUMS: its SHA-256 is {have}, SHA256SUMS says {want}; nothing was installed"
        )),
        "{log}"
    );
    assert_eq!(run.steps.len(), 1, "no step after a failed install");
    assert!(run.path.is_empty(), "nothing on PATH");
    assert!(
        !job.tool_cache
            .join(format!("r2gitops/{VERSION}/x64.complete"))
            .exists()
    );
    assert!(
        !job.tool_cache
            .join(format!("r2gitops/{VERSION}/x64/r2gitops"))
            .exists()
    );
    assert!(job.server.comments(7).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_plan_posts_no_new_comment_but_updates_an_existing_one_to_say_no_changes() {
    let job = Job::new().await;
    job.sandbox
        .write(&FILE.replace("    expires_on: \"2020-01-01T00:00:00Z\"\n", ""));
    let j = Arc::new(job);
    let run = |with: &'static [(&'static str, &'static str)]| {
        let job = j.clone();
        tokio::task::spawn_blocking(move || job.run(with))
    };
    // Pull request 7 shows the pending plan; then it is applied.
    assert!(run(&[]).await.unwrap().failed().is_none());
    assert_eq!(j.server.comments(7).len(), 1);
    let applied = j.sandbox.r2gitops(&["reconcile"]).output().unwrap();
    assert!(applied.status.success(), "{applied:?}");

    // Pull request 8 changes nothing: no comment at all.
    j.pull_request(8);
    j.server.forget_requests();
    let quiet = run(&[]).await.unwrap();
    assert!(quiet.failed().is_none(), "{quiet:#?}");
    assert_eq!(quiet.outputs["exitcode"], "0");
    assert_eq!(quiet.outputs["has-changes"], "false");
    assert!(j.server.comments(8).is_empty());
    assert_eq!(
        j.server.calls("POST", "/repos/") + j.server.calls("PATCH", "/repos/"),
        0
    );
    assert!(
        quiet.summary.contains("No changes."),
        "the job summary still has the plan"
    );
    // Without skip-no-changes, the empty plan is posted.
    let loud = run(&[("skip-no-changes", "false")]).await.unwrap();
    assert!(loud.failed().is_none());
    assert_eq!(j.server.comments(8).len(), 1);

    // Pull request 7 again, now in sync: its comment says so, and no second one appears.
    j.pull_request(7);
    assert!(run(&[]).await.unwrap().failed().is_none());
    let comments = j.server.comments(7);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].1.contains("No changes."), "{}", comments[0].1);
    assert!(!comments[0].1.contains("Changes pending"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_files_in_one_repository_get_one_comment_each() {
    let job = Job::new().await;
    let yaml = |bucket: &str| {
        format!(
            "version: 1\nsettings:\n  recipients: [\"{}\"]\n  state_file: .{bucket}-state.json\nbuckets:\n  - name: {bucket}\n",
            job.sandbox.recipient
        )
    };
    std::fs::write(job.workspace().join("team-a.yaml"), yaml("alpha")).unwrap();
    std::fs::write(job.workspace().join("team-b.yaml"), yaml("beta")).unwrap();
    let j = Arc::new(job);
    for _ in 0..2 {
        for file in ["team-a.yaml", "team-b.yaml"] {
            let job = j.clone();
            let run = tokio::task::spawn_blocking(move || job.run(&[("file", file)]))
                .await
                .unwrap();
            assert!(run.failed().is_none(), "{run:#?}");
        }
    }
    let comments = j.server.comments(7);
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert!(comments[0].1.starts_with(&marker("team-a.yaml")));
    assert!(comments[0].1.contains("+ create bucket alpha"));
    assert!(comments[1].1.starts_with(&marker("team-b.yaml")));
    assert!(comments[1].1.contains("+ create bucket beta"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_alone_needs_no_credentials_and_a_bad_file_fails_the_action_with_its_code() {
    let job = Job::new().await;
    job.sandbox
        .write("version: 1\nbuckets:\n  - name: Bad_Name\n");
    let j = Arc::new(job);
    let job = j.clone();
    let run = tokio::task::spawn_blocking(move || job.run(&[("command", "validate")]))
        .await
        .unwrap();
    let (step, code, _) = run.failed().expect("the last step fails");
    assert_eq!((step.as_str(), *code), ("Exit code", 1));
    assert!(run.log("Validate and plan").contains("Bad_Name"));
    assert!(j.server.comments(7).is_empty(), "validate posts nothing");
    assert_eq!(j.sandbox.emu.stats().total, 0, "validate calls no API");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_input_refuses_a_file_that_loosens_it_before_any_plan_and_passes_one_that_keeps_it()
 {
    let job = Job::new().await;
    // The operator's policy lives outside the file's repository (on a hosted runner,
    // RUNNER_TEMP is beside the workspace, not in it).
    let platform = tempfile::tempdir().unwrap();
    let policy = platform.path().join("platform-policy.yaml");
    std::fs::write(&policy, "version: 1\ntokens:\n  access: [object-read]\n").unwrap();
    job.sandbox.write(FILE);
    let j = Arc::new(job);
    let (job, p) = (j.clone(), policy.display().to_string());
    let run = tokio::task::spawn_blocking(move || job.run(&[("policy", &p)]))
        .await
        .unwrap();
    let (step, code, _) = run.failed().expect("the last step fails");
    assert_eq!((step.as_str(), *code), ("Exit code", 1));
    let log = run.log("Validate and plan");
    assert!(
        log.contains("tokens[0].access: object-read-write is not allowed by the policy"),
        "{log}"
    );
    assert!(
        log.contains("platform-policy.yaml"),
        "names the policy: {log}"
    );
    let comments = j.server.comments(7);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0]
            .1
            .contains("could not plan this file (exit code 1)")
            && !comments[0].1.contains("create bucket"),
        "the comment says the file was refused, with no plan: {}",
        comments[0].1
    );
    assert_eq!(
        j.sandbox.emu.stats().total,
        0,
        "a refused file is never planned"
    );

    // A file within the policy is planned and commented as usual.
    std::fs::write(
        &policy,
        "version: 1\ntokens:\n  access: [object-read, object-read-write]\n",
    )
    .unwrap();
    let (job, p) = (j.clone(), policy.display().to_string());
    let run = tokio::task::spawn_blocking(move || job.run(&[("policy", &p)]))
        .await
        .unwrap();
    assert!(run.failed().is_none(), "{run:#?}");
    assert_eq!(run.outputs["exitcode"], "2", "changes pending");
    assert!(
        run.log("Validate and plan").contains("policy: "),
        "validate names the policy it passed"
    );
    let comments = j.server.comments(7);
    assert_eq!(comments.len(), 1, "the same comment, updated");
    assert!(
        comments[0].1.contains("+ create bucket media"),
        "{}",
        comments[0].1
    );

    // policy-in-repo without a policy is a mistake of the workflow, not a pass.
    let job = j.clone();
    let run = tokio::task::spawn_blocking(move || job.run(&[("policy-in-repo", "true")]))
        .await
        .unwrap();
    let (step, code, _) = run.failed().expect("refused");
    assert_eq!((step.as_str(), *code), ("Exit code", 64));
    assert!(
        run.log("Validate and plan")
            .contains("policy-in-repo is true but no policy is given")
    );
}
