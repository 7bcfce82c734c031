//! The runner: each step of `action.yml` under bash, its `env:` and `${{ … }}` evaluated, and
//! the runner's files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::TOKEN;
use crate::common;
use crate::server::Server;

pub struct Job {
    pub sandbox: common::Sandbox,
    pub server: Server,
    pub tool_cache: PathBuf,
    temp: PathBuf,
    event: PathBuf,
}

#[derive(Debug, Default)]
pub struct Run {
    /// (step name, exit code, stdout + stderr), in order, up to the first failure.
    pub steps: Vec<(String, i32, String)>,
    pub outputs: BTreeMap<String, String>,
    /// What the steps added to PATH (`GITHUB_PATH`).
    pub path: Vec<String>,
    pub summary: String,
}

impl Run {
    pub fn failed(&self) -> Option<&(String, i32, String)> {
        self.steps.iter().find(|s| s.1 != 0)
    }

    pub fn log(&self, step: &str) -> &str {
        &self.steps.iter().find(|s| s.0 == step).expect(step).2
    }
}

impl Job {
    pub async fn new() -> Job {
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

    pub fn pull_request(&self, number: u64) {
        let event = json!({"pull_request": {"number": number, "head": {"sha": "0123abc"}}});
        std::fs::write(&self.event, event.to_string()).unwrap();
    }

    pub fn workspace(&self) -> &Path {
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
    pub fn run(&self, with: &[(&str, &str)]) -> Run {
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
    pub fn markdown_plan(&self, file: &str) -> String {
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
