//! The loopback server: release downloads and GitHub's issue comments, every request recorded.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::{REPOSITORY, TOKEN, VERSION, release_dir};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    query: String,
    pub authorization: Option<String>,
    body: String,
}

#[derive(Default)]
pub struct GitHub {
    requests: Vec<Request>,
    /// (pull request, comment id, body)
    comments: Vec<(u64, u64, String)>,
    next_id: u64,
    /// Serve the archive with one byte changed.
    pub tamper: bool,
}

#[derive(Clone)]
pub struct Server {
    pub url: String,
    pub state: Arc<Mutex<GitHub>>,
}

impl Server {
    pub async fn start() -> Server {
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

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn comments(&self, pr: u64) -> Vec<(u64, String)> {
        let s = self.state.lock().unwrap();
        s.comments
            .iter()
            .filter(|c| c.0 == pr)
            .map(|c| (c.1, c.2.clone()))
            .collect()
    }

    pub fn forget_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    pub fn calls(&self, method: &str, prefix: &str) -> usize {
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
