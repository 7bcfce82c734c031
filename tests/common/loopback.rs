//! A loopback HTTP server that is not Cloudflare, for what the emulator never does on
//! purpose: answers of any size, lists that never end, names R2 would refuse. Each request
//! is answered by the test's closure, on its own connection (`Connection: close`); the
//! server counts requests and the body bytes it managed to write.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request, as the closure sees it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Without the `/client/v4` prefix, e.g. `/accounts/…/r2/buckets`.
    pub path: String,
    pub query: BTreeMap<String, String>,
}

/// What to answer.
pub enum Answer {
    /// A JSON body with its Content-Length.
    Json(serde_json::Value),
    /// A body of `bytes` bytes (JSON that never closes), without Content-Length: the end of
    /// the connection ends it.
    Unbounded { bytes: u64 },
    /// The same, announced by Content-Length.
    Announced { bytes: u64 },
}

/// The `{success, errors, messages, result}` envelope around `result`.
pub fn ok(result: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"success": true, "errors": [], "messages": [], "result": result})
}

type Handler = dyn Fn(&Request) -> Answer + Send + Sync;

pub struct Loopback {
    /// `http://127.0.0.1:P/client/v4`
    pub api_url: String,
    requests: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Loopback {
    pub async fn start(answer: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let written = Arc::new(AtomicU64::new(0));
        let handler: Arc<Handler> = Arc::new(answer);
        let (r, w) = (requests.clone(), written.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (handler, r, w) = (handler.clone(), r.clone(), w.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, &*handler, &r, &w).await;
                });
            }
        });
        Loopback {
            api_url: format!("http://{addr}/client/v4"),
            requests,
            written,
            task,
        }
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Body bytes written to clients so far (a client that stops reading stops this).
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    handler: &Handler,
    requests: &AtomicU64,
    written: &AtomicU64,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default();
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let request = Request {
        method,
        path: path.strip_prefix("/client/v4").unwrap_or(path).to_string(),
        query: query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    requests.fetch_add(1, Ordering::SeqCst);
    let (announced, bytes, json) = match handler(&request) {
        Answer::Json(v) => {
            let text = v.to_string().into_bytes();
            (true, text.len() as u64, Some(text))
        }
        Answer::Unbounded { bytes } => (false, bytes, None),
        Answer::Announced { bytes } => (true, bytes, None),
    };
    let mut out =
        String::from("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n");
    if announced {
        out.push_str(&format!("content-length: {bytes}\r\n"));
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes()).await?;
    match json {
        Some(text) => {
            stream.write_all(&text).await?;
            written.fetch_add(text.len() as u64, Ordering::SeqCst);
        }
        None => {
            // `{"success":true,"result":{"id":"aaaa…` : well formed as far as it goes.
            let open = br#"{"success":true,"errors":[],"result":{"id":""#;
            stream.write_all(open).await?;
            let chunk = vec![b'a'; 64 * 1024];
            let mut left = bytes.saturating_sub(open.len() as u64);
            written.fetch_add(open.len() as u64, Ordering::SeqCst);
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                stream.write_all(&chunk[..n]).await?;
                written.fetch_add(n as u64, Ordering::SeqCst);
                left -= n as u64;
            }
        }
    }
    stream.shutdown().await
}
