//! The Cloudflare API v4 subset at `/client/v4`: R2 buckets per jurisdiction and API tokens of
//! both owner families, with Cloudflare's envelope, paging, error codes and auth rules
//! (API-NOTES §1-3, §5, §7). One handler routes by hand so that every call passes through the
//! same stats, fault and auth steps, and is counted under its route template.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ipnet::IpNet;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::faults::{Call, Verdict};
use crate::state::*;
use crate::{Inner, World};

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
                    buckets(inner, &principal, method, tail, query, headers, body)
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
                    if let Err(r) = r2_allowed(inner, &principal, *method != Method::GET) {
                        return r;
                    }
                    let j = match jurisdiction(headers) {
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
                ["tokens", tail @ ..] => tokens(
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
            tokens(inner, &principal, Family::User, method, tail, query, body)
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

// ---------------------------------------------------------------------------------------
// Buckets

fn jurisdiction(headers: &HeaderMap) -> Result<String, Reply> {
    match headers
        .get("cf-r2-jurisdiction")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => Ok("default".into()),
        Some(j) if JURISDICTIONS.contains(&j) => Ok(j.into()),
        Some(j) => Err(err(
            StatusCode::BAD_REQUEST,
            10040,
            &format!("Invalid jurisdiction '{j}'"),
        )),
    }
}

/// Bucket management needs Workers R2 Storage Write (reads: Read too) on the account.
fn r2_allowed(inner: &Inner, who: &Principal, write: bool) -> Result<(), Reply> {
    if let Principal::Token(id) = who {
        let world = inner.world.lock().unwrap();
        let t = &world.tokens[id];
        let groups: &[&str] = if write {
            &[R2_ADMIN_WRITE]
        } else {
            &[R2_ADMIN_WRITE, R2_ADMIN_READ]
        };
        if !t.has_account_group(&inner.account_id, groups) {
            return Err(forbidden());
        }
    }
    Ok(())
}

fn buckets(
    inner: &Inner,
    who: &Principal,
    method: &Method,
    tail: &[&str],
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Reply {
    if let Err(r) = r2_allowed(inner, who, *method != Method::GET) {
        return r;
    }
    let j = match jurisdiction(headers) {
        Ok(j) => j,
        Err(r) => return r,
    };
    let mut world = inner.world.lock().unwrap();
    match (method.clone(), tail) {
        (Method::GET, []) => list_buckets(&world, &j, query),
        (Method::POST, []) => {
            let Ok(req) = serde_json::from_slice::<Value>(body) else {
                return bad_request("Malformed JSON in request body");
            };
            let name = req.get("name").and_then(Value::as_str).unwrap_or("");
            if !valid_bucket_name(name) {
                return err(
                    StatusCode::BAD_REQUEST,
                    10005,
                    "The specified bucket name is not valid.",
                );
            }
            let location = match req.get("locationHint").and_then(Value::as_str) {
                None => automatic_location(&j).to_string(),
                Some(l)
                    if ["apac", "eeur", "enam", "weur", "wnam", "oc"]
                        .contains(&l.to_ascii_lowercase().as_str()) =>
                {
                    l.to_ascii_lowercase()
                }
                Some(_) => return err(StatusCode::BAD_REQUEST, 10041, "Invalid location hint"),
            };
            let storage_class = match req.get("storageClass").and_then(Value::as_str) {
                None | Some("Standard") => "Standard",
                Some("InfrequentAccess") => "InfrequentAccess",
                Some(_) => return err(StatusCode::BAD_REQUEST, 10042, "Invalid storage class"),
            };
            let key = (j.clone(), name.to_string());
            if world.buckets.contains_key(&key) {
                return err(
                    StatusCode::CONFLICT,
                    10004,
                    "The bucket you tried to create already exists, and you own it.",
                );
            }
            if inner.behaviour.lock().unwrap().global_bucket_names
                && world.buckets.keys().any(|(_, n)| n == name)
            {
                return err(
                    StatusCode::CONFLICT,
                    10073,
                    "The bucket name is already taken. Bucket names must be unique within your account.",
                );
            }
            let b = Bucket {
                name: name.into(),
                jurisdiction: j,
                location,
                storage_class: storage_class.into(),
                creation_date: OffsetDateTime::now_utc(),
                objects: BTreeMap::new(),
                config: Default::default(),
            };
            let v = b.to_json();
            world.buckets.insert(key, b);
            ok(v)
        }
        (Method::GET, [name]) => match world.buckets.get(&(j, name.to_string())) {
            Some(b) => ok(b.to_json()),
            None => no_bucket(),
        },
        (Method::PATCH, [name]) => {
            if let Some(status) = inner.behaviour.lock().unwrap().storage_class_patch {
                return err(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::METHOD_NOT_ALLOWED),
                    7001,
                    "Method not allowed",
                );
            }
            let class = match headers
                .get("cf-r2-storage-class")
                .and_then(|v| v.to_str().ok())
            {
                Some(c @ ("Standard" | "InfrequentAccess")) => c.to_string(),
                _ => {
                    return err(
                        StatusCode::BAD_REQUEST,
                        10042,
                        "The cf-r2-storage-class header must be Standard or InfrequentAccess",
                    );
                }
            };
            match world.buckets.get_mut(&(j, name.to_string())) {
                Some(b) => {
                    b.storage_class = class;
                    ok(b.to_json())
                }
                None => no_bucket(),
            }
        }
        (Method::DELETE, [name]) => {
            let key = (j, name.to_string());
            match world.buckets.get(&key) {
                None => no_bucket(),
                Some(b) if !b.objects.is_empty() => err(
                    StatusCode::CONFLICT,
                    10008,
                    &format!(
                        "The bucket you tried to delete ({name}) is not empty (account {}).",
                        inner.account_id
                    ),
                ),
                Some(_) => {
                    world.buckets.remove(&key);
                    ok(json!({}))
                }
            }
        }
        // A new bucket's sub-resources may not know it yet (`lag`).
        (_, [name, sub @ ..])
            if !sub.is_empty()
                && let Some(lagging) = world
                    .buckets
                    .get(&(j.clone(), name.to_string()))
                    .and_then(|b| {
                        let behaviour = inner.behaviour.lock().unwrap();
                        crate::lag::new_bucket(&behaviour, b, crate::lag::Routes::Config)
                    }) =>
        {
            lagging
        }
        // Custom domains: `custom_domain`, which also sees the zones and the
        // other buckets (a hostname serves one bucket).
        (m, [name, "domains", "custom", rest @ ..]) => {
            let behaviour = inner.behaviour.lock().unwrap().clone();
            crate::custom_domain::route(
                &inner.account_id,
                &behaviour,
                &mut world,
                (j, name.to_string()),
                &m,
                rest,
                body,
            )
        }
        // CORS, lifecycle, lock, r2.dev: `bucket_config`.
        (m, [name, sub @ ..]) if !sub.is_empty() => crate::bucket_config::route(
            &inner.account_id,
            world.buckets.get_mut(&(j, name.to_string())),
            &m,
            sub,
            body,
        ),
        _ => err(StatusCode::METHOD_NOT_ALLOWED, 7001, "Method not allowed"),
    }
}

/// Where a bucket created without a hint is put. R2's "Automatic" picks the region closest
/// to the caller (docs `r2/reference/data-location.mdx`), and a jurisdiction keeps the data
/// inside it, so an EU bucket is in Europe: `weur`. The US jurisdictions (and the default)
/// get `enam`, the emulator's caller's region as before.
fn automatic_location(jurisdiction: &str) -> &'static str {
    match jurisdiction {
        "eu" => "weur",
        _ => "enam",
    }
}

fn list_buckets(world: &World, j: &str, query: &BTreeMap<String, String>) -> Reply {
    let per_page: usize = match query.get("per_page").map(|p| p.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        _ => return bad_request("per_page must be between 1 and 1000"),
    };
    let desc = query.get("direction").is_some_and(|d| d == "desc");
    let contains = query.get("name_contains").cloned().unwrap_or_default();
    let after_cursor = match query.get("cursor").filter(|c| !c.is_empty()) {
        Some(c) => match base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        {
            Some(name) => Some(name),
            None => return bad_request("invalid cursor"),
        },
        None => None,
    };
    let start_after = query.get("start_after").cloned();
    let mut names: Vec<&Bucket> = world
        .buckets
        .values()
        .filter(|b| b.jurisdiction == j && b.name.contains(&contains))
        .filter(|b| {
            start_after
                .as_ref()
                .is_none_or(|s| b.name.as_str() > s.as_str())
        })
        .collect();
    names.sort_by(|a, b| a.name.cmp(&b.name));
    if desc {
        names.reverse();
    }
    if let Some(c) = &after_cursor {
        names.retain(|b| if desc { b.name < *c } else { b.name > *c });
    }
    let page: Vec<&Bucket> = names.iter().take(per_page).copied().collect();
    let more = names.len() > page.len();
    let mut info = json!({"per_page": per_page});
    if more && let Some(last) = page.last() {
        info["cursor"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&last.name));
    }
    let mut r = ok(json!({"buckets": page.iter().map(|b| b.to_json()).collect::<Vec<_>>()}));
    r.1["result_info"] = info;
    r
}

// ---------------------------------------------------------------------------------------
// Tokens

fn token_permission(
    inner: &Inner,
    who: &Principal,
    family: Family,
    write: bool,
) -> Result<(), Reply> {
    let Principal::Token(id) = who else {
        return Ok(());
    };
    let world = inner.world.lock().unwrap();
    let t = &world.tokens[id];
    let ok = match family {
        Family::Account => {
            let groups: &[&str] = if write {
                &[ACCOUNT_TOKENS_WRITE]
            } else {
                &[ACCOUNT_TOKENS_WRITE, ACCOUNT_TOKENS_READ]
            };
            t.has_account_group(&inner.account_id, groups)
        }
        Family::User => {
            let groups: &[&str] = if write {
                &[USER_TOKENS_WRITE]
            } else {
                &[USER_TOKENS_WRITE, USER_TOKENS_READ]
            };
            t.family == Family::User
                && t.policies.iter().any(|p| {
                    p.effect == "allow" && p.groups.iter().any(|g| groups.contains(&g.as_str()))
                })
        }
    };
    if ok { Ok(()) } else { Err(forbidden()) }
}

#[allow(clippy::too_many_arguments)]
fn tokens(
    inner: &Inner,
    who: &Principal,
    family: Family,
    method: &Method,
    tail: &[&str],
    query: &BTreeMap<String, String>,
    body: &Bytes,
) -> Reply {
    let now = OffsetDateTime::now_utc();
    match (method.clone(), tail) {
        (Method::GET, ["verify"]) => {
            let world = inner.world.lock().unwrap();
            let (id, status, expires_on, not_before) = match who {
                Principal::Admin => (
                    inner.admin_token_id.clone(),
                    "active".to_string(),
                    None,
                    None,
                ),
                Principal::Token(id) => {
                    let t = &world.tokens[id];
                    if t.family != family {
                        return err(StatusCode::UNAUTHORIZED, 1000, "Invalid API Token");
                    }
                    (
                        t.id.clone(),
                        t.status(now).to_string(),
                        t.expires_on,
                        t.not_before,
                    )
                }
            };
            let mut result = json!({"id": id, "status": status});
            if let Some(e) = expires_on {
                result["expires_on"] = json!(rfc3339(e));
            }
            if let Some(nb) = not_before {
                result["not_before"] = json!(rfc3339(nb));
            }
            let mut r = ok(result);
            r.1["messages"] = json!([{"code": 10000, "message": "This API Token is valid and active", "type": null}]);
            r
        }
        (Method::GET, ["permission_groups"]) => {
            if let Err(r) = token_permission(inner, who, family, false) {
                return r;
            }
            let name = query.get("name");
            let scope = query.get("scope");
            let groups: Vec<Value> = GROUPS
                .iter()
                .filter(|g| name.is_none_or(|n| n == g.name))
                .filter(|g| scope.is_none_or(|s| s == g.scope))
                .map(|g| json!({"id": g.id, "name": g.name, "scopes": [g.scope]}))
                .collect();
            ok(json!(groups))
        }
        (Method::GET, []) => {
            if let Err(r) = token_permission(inner, who, family, false) {
                return r;
            }
            let page: usize = match query.get("page").map(|p| p.parse::<usize>()) {
                None => 1,
                Some(Ok(n)) if n >= 1 => n,
                _ => return bad_request("page must be a positive integer"),
            };
            let per_page: usize = match query.get("per_page").map(|p| p.parse::<usize>()) {
                None => 20,
                Some(Ok(n)) if (5..=50).contains(&n) => n,
                _ => return bad_request("per_page must be between 5 and 50"),
            };
            let world = inner.world.lock().unwrap();
            // Expired tokens are listed only on request (cloudflare-typescript, 2026-08).
            let include_expired = query.get("include_expired").is_some_and(|v| v == "true");
            let mut all: Vec<&Token> = world
                .tokens
                .values()
                .filter(|t| t.family == family)
                .filter(|t| include_expired || t.status(now) != "expired")
                .collect();
            all.sort_by_key(|t| t.seq);
            if query.get("direction").is_some_and(|d| d == "desc") {
                all.reverse();
            }
            let items: Vec<Value> = all
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|t| t.to_json(now))
                .collect();
            let mut r = ok(json!(items));
            r.1["result_info"] = json!({
                "page": page, "per_page": per_page, "count": items.len(), "total_count": all.len()
            });
            r
        }
        (Method::POST, []) => {
            if let Err(r) = token_permission(inner, who, family, true) {
                return r;
            }
            let key = inner.behaviour.lock().unwrap().condition_key;
            let req = match parse_token_body(body, false, key) {
                Ok(r) => r,
                Err(r) => return r,
            };
            let mut world = inner.world.lock().unwrap();
            let quota = match family {
                Family::Account => ACCOUNT_TOKEN_QUOTA,
                Family::User => USER_TOKEN_QUOTA,
            };
            if world.tokens.values().filter(|t| t.family == family).count() >= quota {
                return err(
                    StatusCode::BAD_REQUEST,
                    1005,
                    &format!("token quota reached: at most {quota} tokens"),
                );
            }
            let mut rng = inner.rng.lock().unwrap();
            world.seq += 1;
            let token = Token {
                id: random_hex(&mut *rng, 16),
                family,
                name: req.name,
                value: new_token_value(&mut *rng, family),
                disabled: false,
                issued_on: now,
                modified_on: now,
                value_issued: now,
                last_used_on: None,
                not_before: req.not_before,
                expires_on: req.expires_on,
                policies: store_policies(&mut *rng, req.policies),
                allow_ips: req
                    .condition
                    .as_ref()
                    .map(|c| c.0.clone())
                    .unwrap_or_default(),
                deny_ips: req.condition.map(|c| c.1).unwrap_or_default(),
                revoked: false,
                seq: world.seq,
            };
            let mut v = token.to_json(now);
            v["value"] = json!(token.value);
            world.issued.push(token.value.clone());
            world.tokens.insert(token.id.clone(), token);
            ok(v)
        }
        (m, [id, rest @ ..]) => {
            let write = m != Method::GET;
            if let Err(r) = token_permission(inner, who, family, write) {
                return r;
            }
            let mut world = inner.world.lock().unwrap();
            let exists = world.tokens.get(*id).is_some_and(|t| t.family == family);
            if !exists {
                return not_found_route(&format!("/tokens/{id}"));
            }
            match (m, rest) {
                (Method::GET, []) => ok(world.tokens[*id].to_json(now)),
                (Method::PUT, []) => {
                    let behaviour = inner.behaviour.lock().unwrap().clone();
                    let req = match parse_token_body(body, true, behaviour.condition_key) {
                        Ok(r) => r,
                        Err(r) => return r,
                    };
                    let mut rng = inner.rng.lock().unwrap();
                    let t = world.tokens.get_mut(*id).unwrap();
                    t.name = req.name;
                    t.policies = store_policies(&mut *rng, req.policies);
                    // Sticky: a field the body leaves out keeps its stored value.
                    let sticky = behaviour.sticky_token_fields;
                    if req.not_before.is_some() || !sticky {
                        t.not_before = req.not_before;
                    }
                    if req.expires_on.is_some() || !sticky {
                        t.expires_on = req.expires_on;
                    }
                    match req.condition {
                        Some((allow, deny)) => {
                            t.allow_ips = allow;
                            t.deny_ips = deny;
                        }
                        None if !sticky => {
                            t.allow_ips.clear();
                            t.deny_ips.clear();
                        }
                        None => {}
                    }
                    // A revoked token stays revoked whatever the body says.
                    if let Some(disabled) = req.disabled {
                        t.disabled = disabled;
                    }
                    t.modified_on = now;
                    ok(t.to_json(now))
                }
                (Method::DELETE, []) => {
                    world.tokens.remove(*id);
                    ok(json!({"id": id}))
                }
                (Method::PUT, ["value"]) => {
                    let mut rng = inner.rng.lock().unwrap();
                    let t = world.tokens.get_mut(*id).unwrap();
                    t.value = new_token_value(&mut *rng, family);
                    t.modified_on = now;
                    t.value_issued = now;
                    let value = t.value.clone();
                    world.issued.push(value.clone());
                    ok(json!(value))
                }
                _ => err(StatusCode::METHOD_NOT_ALLOWED, 7001, "Method not allowed"),
            }
        }
        _ => err(StatusCode::METHOD_NOT_ALLOWED, 7001, "Method not allowed"),
    }
}

struct TokenBody {
    name: String,
    policies: Vec<(String, Map<String, Value>, Vec<String>)>,
    not_before: Option<OffsetDateTime>,
    expires_on: Option<OffsetDateTime>,
    /// (allow, deny) under a key this server understands; `None` when the body carries
    /// none (or only under a key it ignores).
    condition: Option<(Vec<IpNet>, Vec<IpNet>)>,
    disabled: Option<bool>,
}

fn parse_token_body(
    body: &Bytes,
    update: bool,
    condition_key: crate::behaviour::ConditionKey,
) -> Result<TokenBody, Reply> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| bad_request("Malformed JSON in request body"))?;
    let name = v.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() || name.chars().count() > 120 {
        return Err(bad_request("name: must be between 1 and 120 characters"));
    }
    let Some(policies) = v
        .get("policies")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
    else {
        return Err(bad_request("policies: at least one policy is required"));
    };
    let mut out = Vec::new();
    for p in policies {
        let effect = p.get("effect").and_then(Value::as_str).unwrap_or("");
        if effect != "allow" && effect != "deny" {
            return Err(bad_request("policies.effect: must be allow or deny"));
        }
        let Some(resources) = p
            .get("resources")
            .and_then(Value::as_object)
            .filter(|r| !r.is_empty())
        else {
            return Err(bad_request("policies.resources: required"));
        };
        for value in resources.values() {
            let valid = value == "*"
                || value
                    .as_object()
                    .is_some_and(|m| m.values().all(|x| x.is_string()));
            if !valid {
                return Err(bad_request(
                    "policies.resources: values must be \"*\" or a map",
                ));
            }
        }
        let Some(groups) = p
            .get("permission_groups")
            .and_then(Value::as_array)
            .filter(|g| !g.is_empty())
        else {
            return Err(bad_request("policies.permission_groups: required"));
        };
        let mut ids = Vec::new();
        for g in groups {
            let id = g.get("id").and_then(Value::as_str).unwrap_or("");
            if !GROUPS.iter().any(|x| x.id == id) {
                return Err(bad_request(&format!(
                    "policies.permission_groups: unknown permission group '{id}'"
                )));
            }
            ids.push(id.to_string());
        }
        out.push((effect.to_string(), resources.clone(), ids));
    }
    let time_field = |k: &str| -> Result<Option<OffsetDateTime>, Reply> {
        match v.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
                .map(Some)
                .map_err(|_| bad_request(&format!("{k}: not an RFC 3339 timestamp"))),
            Some(_) => Err(bad_request(&format!("{k}: not an RFC 3339 timestamp"))),
        }
    };
    let not_before = time_field("not_before")?;
    let expires_on = time_field("expires_on")?;
    let mut condition = None;
    if let Some(cond) = v.get("condition").filter(|c| !c.is_null()) {
        // Only the keys this server understands; any other is silently dropped.
        let ip = condition_key
            .accepted()
            .iter()
            .find_map(|k| cond.get(*k).map(|ip| (*k, ip)));
        if let Some((name, ip)) = ip {
            let (mut allow, mut deny) = (Vec::new(), Vec::new());
            for (key, into) in [("in", &mut allow), ("not_in", &mut deny)] {
                for c in ip.get(key).and_then(Value::as_array).into_iter().flatten() {
                    let s = c.as_str().unwrap_or("");
                    let net = s
                        .parse::<IpNet>()
                        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                        .map_err(|_| {
                            bad_request(&format!("condition.{name}.{key}: invalid CIDR '{s}'"))
                        })?;
                    into.push(net);
                }
            }
            condition = Some((allow, deny));
        }
    }
    let disabled = if update {
        match v.get("status").and_then(Value::as_str) {
            None => None,
            Some("active") => Some(false),
            Some("disabled") => Some(true),
            Some(_) => return Err(bad_request("status: must be active or disabled")),
        }
    } else {
        None
    };
    Ok(TokenBody {
        name: name.to_string(),
        policies: out,
        not_before,
        expires_on,
        condition,
        disabled,
    })
}

/// Cloudflare assigns policy ids and does not keep the order it was sent: store policies and
/// their groups reversed, so clients that compare by position see "drift" and must not.
fn store_policies(
    rng: &mut impl rand::Rng,
    policies: Vec<(String, Map<String, Value>, Vec<String>)>,
) -> Vec<StoredPolicy> {
    policies
        .into_iter()
        .rev()
        .map(|(effect, resources, mut groups)| {
            groups.reverse();
            StoredPolicy {
                id: random_hex(rng, 16),
                effect,
                resources,
                groups,
            }
        })
        .collect()
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
