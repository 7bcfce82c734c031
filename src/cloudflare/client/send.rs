//! The one path every call takes: the request budget, the concurrency limit, retries with
//! backoff, the answer read into a buffer wiped when dropped (and bounded), the envelope
//! decoded, the metrics counted and the log line written without secrets.

use std::time::SystemTime;

use rand::Rng;
use serde_json::Value;
use zeroize::Zeroize;

use super::{Call, Client};
use crate::cloudflare::budget::wait_from_headers;
use crate::cloudflare::error::ApiError;
use crate::cloudflare::limits::too_large;
use crate::cloudflare::retry::{Attempt, backoff, should_retry};
use crate::cloudflare::wire;
use crate::secret::SecretBuf;

/// A status, the envelope's success and errors (when it has one), and the body.
type Answer = (u16, Option<wire::Outcome>, SecretBuf);

impl Client {
    fn count(&self, status: u16) {
        *self
            .inner
            .metrics
            .lock()
            .unwrap()
            .requests_by_status
            .entry(status)
            .or_default() += 1;
    }

    /// Send one call with budget, concurrency limit and retries; decode the envelope.
    pub(in crate::cloudflare) async fn send(
        &self,
        call: Call<'_>,
    ) -> Result<wire::Envelope, ApiError> {
        let body = self.exchange(&call).await?;
        serde_json::from_slice(body.expose()).map_err(|e| {
            ApiError::transport(&call.operation, format!("unexpected answer shape: {e}"))
        })
    }

    /// Send a call whose answer holds a secret (a create or roll): its `result` goes
    /// straight from the wiped body buffer into `T`, never through a `serde_json::Value`.
    pub(super) async fn send_secret<T: serde::de::DeserializeOwned>(
        &self,
        mut call: Call<'_>,
    ) -> Result<T, ApiError> {
        call.secret_answer = true;
        let body = self.exchange(&call).await?;
        serde_json::from_slice::<wire::SecretEnvelope<T>>(body.expose())
            .map(|env| env.result)
            .map_err(|e| {
                // serde's message may quote the input: give the position only.
                ApiError::transport(
                    &call.operation,
                    format!(
                        "unexpected answer shape at line {} column {} (details withheld: the answer holds a secret)",
                        e.line(),
                        e.column()
                    ),
                )
            })
    }

    /// The body of the first successful answer (budget, concurrency limit, retries), in a
    /// buffer that is wiped when dropped; or the error of the last attempt.
    async fn exchange(&self, call: &Call<'_>) -> Result<SecretBuf, ApiError> {
        let url = format!("{}{}", self.inner.base, call.path);
        let mut attempt = 0;
        let mut cause: Option<&'static str> = None;
        loop {
            self.inner.budget.acquire().await;
            let permit = self
                .inner
                .in_flight
                .acquire()
                .await
                .expect("semaphore is never closed");
            let req = self.request(call, &url);
            // The Authorization header and bodies are never logged: method, path, query only.
            tracing::debug!(method = %call.method, path = %call.path, query = ?call.query, attempt, "cloudflare request");
            let result = req.send().await;
            drop(permit);
            let (outcome, retry_after, answer) = match result {
                Ok(resp) => self.answered(call, resp).await?,
                Err(e) => {
                    self.count(0);
                    let outcome = if e.is_connect() {
                        Attempt::ConnectFailed
                    } else {
                        Attempt::Lost
                    };
                    tracing::debug!(path = %call.path, error = %e, "cloudflare request failed");
                    cause = Some(transport_cause(&e));
                    (outcome, None, None)
                }
            };
            let succeeded =
                matches!(&answer, Some((s, Some(o), _)) if (200..300).contains(s) && o.success);
            if succeeded {
                return Ok(answer.unwrap().2);
            }
            if should_retry(outcome, attempt, self.inner.max_retries, call.replay_safe) {
                let jitter: f64 = rand::rng().random();
                let wait = backoff(attempt, retry_after, jitter);
                self.inner.metrics.lock().unwrap().retries += 1;
                let why = match (&answer, cause) {
                    (Some((status, _, _)), _) => format!("HTTP {status}"),
                    (None, Some(c)) => c.to_string(),
                    (None, None) => "no answer".to_string(),
                };
                // Info, not debug: a pass that waits must say why and for how long.
                tracing::info!(
                    "{}: {why}; retrying in {} (attempt {}/{})",
                    call.operation,
                    seconds(wait),
                    attempt + 2,
                    self.inner.max_retries + 1
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            return Err(match answer {
                Some((status, outcome, _)) => self.answer_error(call, status, outcome, retry_after),
                None => self.no_answer_error(call, outcome, cause),
            });
        }
    }

    /// The request of one attempt: the call's method, path, query, headers and body, with
    /// the API token as bearer.
    fn request(&self, call: &Call<'_>, url: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .inner
            .http
            .request(call.method.clone(), url)
            .bearer_auth(self.inner.token.expose())
            .query(&call.query);
        for (k, v) in &call.headers {
            req = req.header(*k, v);
        }
        if call.secret_answer {
            // The connection's read buffer would keep the answer's bytes while it waits
            // in the pool; closed, its buffers are freed (and wiped, see main.rs).
            req = req.header(reqwest::header::CONNECTION, "close");
        }
        if let Some(body) = &call.body {
            req = req.json(body);
        }
        req
    }

    /// One answer: counted, its rate-limit headers obeyed, its body read (bounded) and
    /// logged (unless it holds a secret), its success and errors decoded.
    async fn answered(
        &self,
        call: &Call<'_>,
        resp: reqwest::Response,
    ) -> Result<(Attempt, Option<std::time::Duration>, Option<Answer>), ApiError> {
        let status = resp.status().as_u16();
        self.count(status);
        // Calls sent before this answer may not be counted in its `remaining`
        // yet: they will spend it, so what is left for new calls is less.
        let others = self
            .inner
            .concurrency
            .saturating_sub(self.inner.in_flight.available_permits());
        let wait = wait_from_headers(resp.headers(), SystemTime::now(), others as u64);
        if let Some(w) = wait.filter(|w| status == 429 || !w.is_zero()) {
            self.inner.metrics.lock().unwrap().rate_limit_pauses += 1;
            self.inner.budget.pause(w).await;
        }
        let body = match read_body(resp, call.max_body).await {
            Ok(body) => body,
            // Not transient: the same server would send the same again.
            Err(seen) => return Err(too_large(&call.operation, call.max_body, seen)),
        };
        if call.secret_answer {
            tracing::trace!(status, "cloudflare answer (body withheld: holds a secret)");
        } else {
            tracing::trace!(status, body = %String::from_utf8_lossy(body.expose()), "cloudflare answer");
        }
        // Success and errors only: `result` is skipped without being copied.
        let outcome: Option<wire::Outcome> = serde_json::from_slice(body.expose()).ok();
        Ok((
            Attempt::Answered(status),
            wait,
            Some((status, outcome, body)),
        ))
    }

    /// The error of a final answer that was not a success, with a hint when an account
    /// path was refused.
    fn answer_error(
        &self,
        call: &Call<'_>,
        status: u16,
        outcome: Option<wire::Outcome>,
        retry_after: Option<std::time::Duration>,
    ) -> ApiError {
        let errors = outcome
            .map(|e| e.errors.into_iter().map(Into::into).collect())
            .unwrap_or_default();
        let mut err = ApiError::from_answer(&call.operation, status, errors);
        err.retry_after = retry_after.map(|d| d.as_secs());
        // Refused on an account path: most often the wrong account, so say which
        // one was used and where it came from.
        if call.path.starts_with("/accounts/") && (status == 403 || err.is_code(9109)) {
            err.hint = Some(format!(
                "the account id used was {} (from {}); check it, and that the API token belongs to that account{}",
                self.inner.account_id,
                self.inner.account_source,
                err.hint
                    .as_deref()
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default()
            ));
        }
        err
    }

    /// The error when the last attempt got no answer, naming the URL it tried.
    fn no_answer_error(
        &self,
        call: &Call<'_>,
        outcome: Attempt,
        cause: Option<&'static str>,
    ) -> ApiError {
        let cause = cause.unwrap_or("no answer");
        let mut err = ApiError::transport(
            &call.operation,
            match outcome {
                Attempt::ConnectFailed => format!(
                    "cannot connect to the Cloudflare API at {}: {cause}",
                    shown_url(&self.inner.base)
                ),
                _ => format!(
                    "no answer from the Cloudflare API at {}: {cause}",
                    shown_url(&self.inner.base)
                ),
            },
        );
        err.hint = Some(
            "check --api-url (CLOUDFLARE_API_BASE_URL), DNS and the network path to it".into(),
        );
        err
    }

    pub(super) fn decode<T: serde::de::DeserializeOwned>(
        operation: &str,
        value: Value,
    ) -> Result<T, ApiError> {
        serde_json::from_value(value)
            .map_err(|e| ApiError::transport(operation, format!("unexpected answer shape: {e}")))
    }
}

/// Why a request got no answer, in a person's words: the kind of failure, found in the
/// error's causes (reqwest wraps hyper, which wraps the I/O or TLS error).
fn transport_cause(e: &reqwest::Error) -> &'static str {
    let mut text = String::new();
    let mut refused = false;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        text.push_str(&s.to_string().to_ascii_lowercase());
        text.push('\n');
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        source = s.source();
    }
    classify_cause(e.is_timeout(), refused, &text)
}

/// The classification itself (pure): timeout, refused, DNS, TLS, else a broken connection.
fn classify_cause(timeout: bool, refused: bool, text: &str) -> &'static str {
    if timeout || text.contains("timed out") {
        "timed out"
    } else if refused || text.contains("connection refused") {
        "connection refused"
    } else if text.contains("dns error")
        || text.contains("failed to lookup")
        || text.contains("name or service not known")
        || text.contains("no address associated")
    {
        "DNS lookup failed"
    } else if text.contains("certificate")
        || text.contains("tls")
        || text.contains("handshake")
        || text.contains("invalid peer")
    {
        "TLS handshake failed"
    } else {
        "connection failed or was cut"
    }
}

/// A URL as it may be shown: without any `user:password@` someone put in it.
fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string().trim_end_matches('/').to_string()
        }
        _ => url.to_string(),
    }
}

/// `2s`, or `0.5s` below ten seconds when not whole.
fn seconds(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() < 0.05 || s >= 10.0 {
        format!("{}s", s.round() as u64)
    } else {
        format!("{s:.1}s")
    }
}

/// The whole body into a buffer that is wiped when dropped (a create or roll answer holds
/// the new token's value), sized from Content-Length so that it rarely grows. Each chunk
/// the HTTP stack handed over is wiped too when nothing else holds it. A body cut short
/// yields what arrived, which then fails to parse. A body over `limit` bytes is not read
/// further (nor at all when Content-Length announces it): `Err` with the bytes seen, and
/// the connection is dropped with the response.
async fn read_body(mut resp: reqwest::Response, limit: usize) -> Result<SecretBuf, u64> {
    const DEFAULT: usize = 16 * 1024;
    if let Some(n) = resp.content_length().filter(|n| *n > limit as u64) {
        return Err(n);
    }
    let capacity = resp
        .content_length()
        .map_or(DEFAULT, |n| usize::try_from(n).unwrap_or(DEFAULT));
    let mut body = SecretBuf::with_capacity(capacity);
    while let Ok(Some(chunk)) = resp.chunk().await {
        let over = body.len() + chunk.len() > limit;
        if !over {
            body.push(&chunk);
        }
        let seen = (body.len() + chunk.len()) as u64;
        if let Ok(mut owned) = chunk.try_into_mut() {
            owned.as_mut().zeroize();
        }
        if over {
            return Err(seen);
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_connection_is_named_by_its_kind() {
        let cases = [
            (true, false, "operation timed out", "timed out"),
            (false, true, "tcp connect error", "connection refused"),
            (
                false,
                false,
                "client error (connect)\ndns error\nfailed to lookup address information: name or service not known",
                "DNS lookup failed",
            ),
            (
                false,
                false,
                "client error (connect)\ninvalid peer certificate: unknownissuer",
                "TLS handshake failed",
            ),
            (
                false,
                false,
                "connection closed before message completed",
                "connection failed or was cut",
            ),
        ];
        for (timeout, refused, text, want) in cases {
            assert_eq!(classify_cause(timeout, refused, text), want, "{text}");
        }
    }

    #[test]
    fn a_url_is_shown_without_credentials() {
        assert_eq!(
            shown_url("https://user:secret@api.example.com/client/v4"),
            "https://api.example.com/client/v4"
        );
        assert_eq!(
            shown_url("http://127.0.0.1:1/client/v4"),
            "http://127.0.0.1:1/client/v4"
        );
    }

    #[test]
    fn waits_read_as_seconds() {
        for (ms, want) in [(500, "0.5s"), (2000, "2s"), (2250, "2.2s"), (12_400, "12s")] {
            assert_eq!(seconds(std::time::Duration::from_millis(ms)), want);
        }
    }
}
