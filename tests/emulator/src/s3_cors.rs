//! CORS on the S3 endpoint, from the bucket's rules
//! (https://developers.cloudflare.com/r2/buckets/cors/): an `OPTIONS`
//! preflight is answered here (s3s has no such operation), and an ordinary request that
//! carries `Origin` gets the `Access-Control-*` headers of the first rule that allows it.
//! Origins match exactly (or `*`), headers case-insensitively; without `Origin` nothing is
//! added, as on R2. A preflight no rule allows answers 403 `AccessForbidden`, as S3 does.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode};

use crate::Inner;
use crate::bucket_config::{Grant, grant};

/// The bucket of a path-style request (`/bucket/key`).
fn bucket_of(path: &str) -> Option<&str> {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .filter(|b| !b.is_empty())
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn find(
    inner: &Inner,
    jurisdiction: &str,
    path: &str,
    origin: &str,
    method: &str,
    headers: &[String],
) -> Option<Grant> {
    let world = inner.world.lock().unwrap();
    let bucket = world
        .buckets
        .get(&(jurisdiction.to_string(), bucket_of(path)?.to_string()))?;
    grant(bucket, origin, method, headers)
}

fn apply(h: &mut HeaderMap, g: &Grant) {
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    set("access-control-allow-origin", &g.allow_origin);
    set("access-control-allow-methods", &g.allow_methods);
    if let Some(a) = &g.allow_headers {
        set("access-control-allow-headers", a);
    }
    if let Some(e) = &g.expose_headers {
        set("access-control-expose-headers", e);
    }
    if let Some(m) = &g.max_age {
        set("access-control-max-age", m);
    }
    set(
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    );
}

fn xml_error(status: StatusCode, code: &str, message: &str) -> Response<s3s::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut r = Response::new(s3s::Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

/// Answer an `OPTIONS` preflight.
pub(crate) fn preflight(
    inner: &Inner,
    jurisdiction: &str,
    path: &str,
    headers: &HeaderMap,
) -> Response<s3s::Body> {
    let (Some(origin), Some(method)) = (
        header(headers, "origin"),
        header(headers, "access-control-request-method"),
    ) else {
        return xml_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
        );
    };
    let requested: Vec<String> = header(headers, "access-control-request-headers")
        .map(|h| {
            h.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    match find(inner, jurisdiction, path, &origin, &method, &requested) {
        Some(g) => {
            let mut r = Response::new(s3s::Body::empty());
            apply(r.headers_mut(), &g);
            r
        }
        None => xml_error(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed.",
        ),
    }
}

/// What an ordinary request needs to be decorated after s3s answered it.
pub(crate) struct Pending {
    path: String,
    origin: String,
    method: String,
}

pub(crate) fn pending(method: &Method, path: &str, headers: &HeaderMap) -> Option<Pending> {
    Some(Pending {
        path: path.to_string(),
        origin: header(headers, "origin")?,
        method: method.as_str().to_string(),
    })
}

/// Add the headers of the rule that allows the request, if one does.
pub(crate) fn decorate(inner: &Inner, jurisdiction: &str, p: &Pending, h: &mut HeaderMap) {
    if let Some(g) = find(inner, jurisdiction, &p.path, &p.origin, &p.method, &[]) {
        apply(h, &g);
    }
}
