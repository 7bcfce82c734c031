//! The Cloudflare API v4 subset at `/client/v4`: R2 buckets per jurisdiction and API tokens of
//! both owner families, with Cloudflare's envelope, paging, error codes and auth rules
//! (as Cloudflare's OpenAPI schema, cloudflare/api-schemas, and its SDKs show them). One handler routes by hand so that every call passes through the
//! same stats, fault and auth steps, and is counted under its route template.
//!
//! This file holds the envelope, authentication and routing; the routes themselves are its
//! children: `buckets`, `tokens` and `temporary` (temporary credentials).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::Inner;
use crate::faults::{Call, Verdict};
use crate::state::*;

mod buckets;
mod tokens;

// Temporary credentials: a child, so that it answers through this envelope.
pub(crate) mod temporary;

pub(crate) type Reply = (StatusCode, Value);

pub(crate) fn ok(result: Value) -> Reply {
    (
        StatusCode::OK,
        json!({"success": true, "errors": [], "messages": [], "result": result}),
    )
}

pub(crate) fn err(status: StatusCode, code: i64, message: &str) -> Reply {
    (
        status,
        json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null}),
    )
}

fn not_found_route(path: &str) -> Reply {
    err(
        StatusCode::NOT_FOUND,
        7003,
        &format!("Could not route to {path}, perhaps your object identifier is invalid?"),
    )
}

pub(crate) fn no_bucket() -> Reply {
    err(
        StatusCode::NOT_FOUND,
        10006,
        "The specified bucket does not exist.",
    )
}

pub(crate) fn bad_request(message: &str) -> Reply {
    err(StatusCode::BAD_REQUEST, 400, message)
}

/// Who is calling.
enum Principal {
    Admin,
    Token(String),
}

/// Parsed route: the template for stats and the pieces the handler needs.
struct Route<'a> {
    template: String,
    segs: Vec<&'a str>,
}

fn route_template(method: &Method, segs: &[&str]) -> String {
    let mut out = String::new();
    for (i, s) in segs.iter().enumerate() {
        out.push('/');
        let templ = match (i, segs.first().copied(), segs.get(2).copied()) {
            (1, Some("accounts"), _) => ":id",
            (1, Some("zones"), _) => ":zone_id",
            (4, Some("accounts"), Some("r2")) => ":name",
            (7, Some("accounts"), Some("r2")) if segs[5] == "domains" => ":domain",
            (4, Some("accounts"), Some("event_notifications")) => ":name",
            (7, Some("accounts"), Some("event_notifications")) => ":queue_id",
            (3, Some("accounts"), Some("queues")) => ":queue_id",
            (3, Some("accounts"), Some("tokens"))
                if !matches!(*s, "verify" | "permission_groups") =>
            {
                ":token_id"
            }
            (2, Some("user"), _) if !matches!(*s, "verify" | "permission_groups") => ":token_id",
            _ => s,
        };
        out.push_str(templ);
    }
    format!("{method} {out}")
}

pub(crate) async fn handle(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    if let Some(rest) = path.strip_prefix("/__emulator/") {
        return introspection(&inner, &method, rest);
    }
    let Some(api_path) = path.strip_prefix("/client/v4/") else {
        return reply(
            err(StatusCode::NOT_FOUND, 7000, "No route for that URI"),
            None,
        );
    };
    let segs: Vec<&str> = api_path.trim_end_matches('/').split('/').collect();
    let route = Route {
        template: route_template(&method, &segs),
        segs,
    };
    let now_i = Instant::now();
    let latency = inner.faults.lock().unwrap().faults.latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let verdict = inner.faults.lock().unwrap().decide(Instant::now());
    let (status, value) = match verdict {
        Verdict::RateLimited { retry_after_secs } => {
            let mut r = err(
                StatusCode::TOO_MANY_REQUESTS,
                971,
                "Please wait and consider throttling your request speed",
            );
            r.1["retry_after"] = json!(retry_after_secs);
            r
        }
        Verdict::Fail500 => err(
            StatusCode::INTERNAL_SERVER_ERROR,
            10001,
            "We encountered an internal error. Please try again.",
        ),
        Verdict::Pass => {
            let query = parse_query(uri.query().unwrap_or(""));
            dispatch(&inner, &method, &route, &query, &headers, &body, peer.ip())
        }
    };
    let mutating = {
        let mut stats = inner.stats.lock().unwrap();
        stats.total += 1;
        if method != Method::GET {
            stats.mutating += 1;
        }
        *stats.by_route.entry(route.template.clone()).or_default() += 1;
        stats.calls.push(Call {
            at_ms: now_i.duration_since(inner.started).as_millis() as u64,
            route: route.template.clone(),
            status: status.as_u16(),
        });
        (method != Method::GET).then_some(stats.mutating)
    };
    if let Some(n) = mutating {
        inner.hold.maybe_hold(n).await;
    }
    let rl = inner.faults.lock().unwrap().headers(Instant::now());
    let mut resp = reply((status, value.clone()), rl);
    if status == StatusCode::TOO_MANY_REQUESTS
        && let Some(secs) = value.get("retry_after").and_then(Value::as_u64)
    {
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
    }
    resp
}

fn reply((status, mut value): Reply, rate_headers: Option<(String, String)>) -> Response {
    if let Some(obj) = value.as_object_mut() {
        obj.remove("retry_after");
    }
    let mut resp = (status, axum::Json(value)).into_response();
    if let Some((rl, policy)) = rate_headers
        && let (Ok(a), Ok(b)) = (HeaderValue::from_str(&rl), HeaderValue::from_str(&policy))
    {
        resp.headers_mut().insert("ratelimit", a);
        resp.headers_mut().insert("ratelimit-policy", b);
    }
    resp
}

fn introspection(inner: &Inner, method: &Method, rest: &str) -> Response {
    if let (&Method::POST, Some(id)) = (
        method,
        rest.strip_prefix("tokens/")
            .and_then(|r| r.strip_suffix("/revoke-exposed")),
    ) {
        return if crate::revoke_exposed(inner, id) {
            axum::Json(json!({"ok": true})).into_response()
        } else {
            StatusCode::NOT_FOUND.into_response()
        };
    }
    match (method, rest) {
        (&Method::GET, "tokens") => {
            axum::Json(serde_json::to_value(crate::token_views(inner)).unwrap()).into_response()
        }
        (&Method::GET, "temporary-credentials") => {
            axum::Json(serde_json::to_value(temporary::views(inner)).unwrap()).into_response()
        }
        (&Method::GET, "stats") => {
            axum::Json(serde_json::to_value(&*inner.stats.lock().unwrap()).unwrap()).into_response()
        }
        (&Method::POST, "reset-stats") => {
            *inner.stats.lock().unwrap() = Default::default();
            axum::Json(json!({"ok": true})).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn parse_query(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn authenticate(inner: &Inner, headers: &HeaderMap, peer: IpAddr) -> Result<Principal, Reply> {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(err(StatusCode::BAD_REQUEST, 10000, "Authentication error"));
    };
    let Some(value) = auth.strip_prefix("Bearer ").map(str::trim) else {
        return Err(err(
            StatusCode::BAD_REQUEST,
            6003,
            "Invalid request headers",
        ));
    };
    if value == inner.admin_token {
        return Ok(Principal::Admin);
    }
    let mut world = inner.world.lock().unwrap();
    let now = OffsetDateTime::now_utc();
    let Some(token) = world.tokens.values_mut().find(|t| t.value == value) else {
        return Err(err(StatusCode::UNAUTHORIZED, 1000, "Invalid API Token"));
    };
    if !token.usable(now, Some(peer)) {
        return Err(err(
            StatusCode::FORBIDDEN,
            9109,
            "Unauthorized to access requested resource",
        ));
    }
    token.last_used_on = Some(now);
    Ok(Principal::Token(token.id.clone()))
}

fn forbidden() -> Reply {
    err(StatusCode::FORBIDDEN, 10000, "Authentication error")
}

fn dispatch(
    inner: &Inner,
    method: &Method,
    route: &Route<'_>,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
    peer: IpAddr,
) -> Reply {
    let principal = match authenticate(inner, headers, peer) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let segs = &route.segs;
    match segs.as_slice() {
        ["accounts", acct, rest @ ..] => {
            if *acct != inner.account_id {
                return err(
                    StatusCode::FORBIDDEN,
                    9109,
                    "Unauthorized to access requested resource",
                );
            }
            match rest {
                ["r2", "buckets", tail @ ..] => {
                    buckets::route(inner, &principal, method, tail, query, headers, body)
                }
                ["r2", "temp-access-credentials"] => {
                    temporary::create(inner, &principal, method, body)
                }
                [
                    "event_notifications",
                    "r2",
                    bucket,
                    "configuration",
                    tail @ ..,
                ] => {
                    if let Err(r) = buckets::r2_allowed(inner, &principal, *method != Method::GET) {
                        return r;
                    }
                    let j = match buckets::jurisdiction(headers) {
                        Ok(j) => j,
                        Err(r) => return r,
                    };
                    let behaviour = inner.behaviour.lock().unwrap().clone();
                    let mut world = inner.world.lock().unwrap();
                    if let Some(lagging) = world
                        .buckets
                        .get(&(j.clone(), bucket.to_string()))
                        .and_then(|b| {
                            crate::lag::new_bucket(&behaviour, b, crate::lag::Routes::Notifications)
                        })
                    {
                        return lagging;
                    }
                    let mut rng = inner.rng.lock().unwrap();
                    crate::notification::route(
                        &mut world,
                        &behaviour,
                        &mut *rng,
                        (j, bucket.to_string()),
                        method,
                        tail,
                        body,
                    )
                }
                ["queues", tail @ ..] => {
                    let may = match &principal {
                        Principal::Admin => true,
                        Principal::Token(id) => inner.world.lock().unwrap().tokens[id]
                            .has_account_group(
                                &inner.account_id,
                                &[crate::queues::QUEUES_READ, crate::queues::QUEUES_WRITE],
                            ),
                    };
                    let world = inner.world.lock().unwrap();
                    crate::queues::route(&world, may, method, tail, query)
                }
                ["tokens", tail @ ..] => tokens::route(
                    inner,
                    &principal,
                    Family::Account,
                    method,
                    tail,
                    query,
                    body,
                ),
                _ => not_found_route(&route.template),
            }
        }
        ["user", "tokens", tail @ ..] => {
            tokens::route(inner, &principal, Family::User, method, tail, query, body)
        }
        ["zones", tail @ ..] => {
            let world = inner.world.lock().unwrap();
            let may = match &principal {
                Principal::Admin => true,
                Principal::Token(id) => world.tokens[id]
                    .has_zone_group(&[crate::zones::ZONE_READ, crate::zones::ZONE_WRITE]),
            };
            crate::zones::route(inner, &world, may, method, tail, query)
        }
        _ => not_found_route(&route.template),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_templates_hide_ids_and_names() {
        let cases = [
            (
                Method::GET,
                "accounts/abc/r2/buckets",
                "GET /accounts/:id/r2/buckets",
            ),
            (
                Method::DELETE,
                "accounts/abc/r2/buckets/logs",
                "DELETE /accounts/:id/r2/buckets/:name",
            ),
            (
                Method::GET,
                "accounts/abc/tokens/verify",
                "GET /accounts/:id/tokens/verify",
            ),
            (
                Method::PUT,
                "accounts/abc/tokens/123/value",
                "PUT /accounts/:id/tokens/:token_id/value",
            ),
            (
                Method::GET,
                "user/tokens/permission_groups",
                "GET /user/tokens/permission_groups",
            ),
            (Method::PUT, "user/tokens/123", "PUT /user/tokens/:token_id"),
            (Method::GET, "zones/abc", "GET /zones/:zone_id"),
            (
                Method::DELETE,
                "accounts/abc/r2/buckets/media/domains/custom/a.example.com",
                "DELETE /accounts/:id/r2/buckets/:name/domains/custom/:domain",
            ),
            (
                Method::PUT,
                "accounts/abc/event_notifications/r2/media/configuration/queues/q1",
                "PUT /accounts/:id/event_notifications/r2/:name/configuration/queues/:queue_id",
            ),
        ];
        for (m, path, want) in cases {
            let segs: Vec<&str> = path.split('/').collect();
            assert_eq!(route_template(&m, &segs), want);
        }
    }

    #[test]
    fn query_values_are_percent_decoded() {
        let q = parse_query(
            "name=Workers%20R2%20Storage%20Write&scope=com.cloudflare.api.account&x=a+b",
        );
        assert_eq!(q["name"], "Workers R2 Storage Write");
        assert_eq!(q["x"], "a b");
    }
}
