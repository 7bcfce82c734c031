//! The R2 S3 endpoint of one jurisdiction: SigV4 verified by `s3s` (access key id = token id,
//! secret = hex sha256 of the token value), each token's policies enforced, objects kept in
//! memory in the shared world (https://developers.cloudflare.com/r2/api/tokens/,
//! https://developers.cloudflare.com/r2/api/s3/api/), bucket lock rules enforced on deletes
//! and overwrites (https://developers.cloudflare.com/r2/buckets/bucket-locks/), conditional writes and deletes (`If-Match`,
//! `If-None-Match`) decided under the world lock, so that concurrent ones on a key serialize
//! (R2 docs, "Conditional operations"). CORS is answered in `s3_cors`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::TryStreamExt;
use md5_hex::md5_hex;
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use time::OffsetDateTime;

use crate::Inner;
use crate::state::Object;

/// The peer address of the connection, put into each request's extensions by the server.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerAddr(pub SocketAddr);

pub(crate) struct Auth {
    pub inner: Arc<Inner>,
}

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let delay = self.inner.behaviour.lock().unwrap().propagation_delay;
        let world = self.inner.world.lock().unwrap();
        if let Some(t) = world.temporary.get(access_key) {
            return Ok(SecretKey::from(t.secret.clone()));
        }
        match world.tokens.get(access_key) {
            // A new or rolled value is not known to the S3 side yet: R2 answers as for an
            // unknown key (wrangler sleeps 3 s after minting a token for this).
            Some(t) if t.propagating(OffsetDateTime::now_utc(), delay) => {
                Err(s3_error!(InvalidAccessKeyId))
            }
            Some(t) => Ok(SecretKey::from(t.s3_secret())),
            None => Err(s3_error!(InvalidAccessKeyId)),
        }
    }
}

/// Per-request policy check: status, validity window, IP condition, bucket scope within this
/// jurisdiction, read versus write, admin versus object.
pub(crate) struct Access {
    pub inner: Arc<Inner>,
    pub jurisdiction: &'static str,
}

const READ_OPS: &[&str] = &[
    "GetObject",
    "HeadObject",
    "ListObjects",
    "ListObjectsV2",
    "ListMultipartUploads",
    "ListParts",
];
const WRITE_OPS: &[&str] = &[
    "PutObject",
    "DeleteObject",
    "DeleteObjects",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
];

#[async_trait::async_trait]
impl s3s::access::S3Access for Access {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> S3Result<()> {
        if let Some(verdict) = crate::api::temporary::s3_check(&self.inner, self.jurisdiction, cx) {
            return verdict;
        }
        let Some(creds) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        let access_key = creds.access_key.clone();
        let op = cx.s3_op().name().to_string();
        let bucket = match cx.s3_path() {
            s3s::path::S3Path::Root => None,
            s3s::path::S3Path::Bucket { bucket } | s3s::path::S3Path::Object { bucket, .. } => {
                Some(bucket.to_string())
            }
        };
        let peer = cx.extensions_mut().get::<PeerAddr>().map(|p| p.0.ip());
        let now = OffsetDateTime::now_utc();
        let world = self.inner.world.lock().unwrap();
        let Some(token) = world.tokens.get(&access_key) else {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        if !token.usable(now, peer) {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        let account = &self.inner.account_id;
        let allowed = match (op.as_str(), bucket) {
            // R2 answers ListBuckets and HeadBucket only for account-scoped (admin) tokens.
            ("ListBuckets", _) | ("HeadBucket", Some(_)) => token.has_account_group(
                account,
                &[crate::state::R2_ADMIN_READ, crate::state::R2_ADMIN_WRITE],
            ),
            (op, Some(b)) if READ_OPS.contains(&op) => {
                token.may_access_bucket(account, self.jurisdiction, &b, false)
            }
            (op, Some(b)) if WRITE_OPS.contains(&op) => {
                token.may_access_bucket(account, self.jurisdiction, &b, true)
            }
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(s3_error!(AccessDenied, "Access Denied"))
        }
    }
}

/// The object store of one jurisdiction's endpoint.
pub(crate) struct Store {
    pub inner: Arc<Inner>,
    pub jurisdiction: &'static str,
}

fn key(j: &str, bucket: &str) -> (String, String) {
    (j.to_string(), bucket.to_string())
}

async fn collect(body: Option<StreamingBlob>) -> S3Result<Bytes> {
    let Some(body) = body else {
        return Ok(Bytes::new());
    };
    let chunks: Vec<Bytes> = body
        .try_collect()
        .await
        .map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
    let mut buf = BytesMut::new();
    for c in chunks {
        buf.extend_from_slice(&c);
    }
    Ok(buf.freeze())
}

fn to_ts(t: OffsetDateTime) -> Timestamp {
    Timestamp::from(t)
}

#[async_trait::async_trait]
impl S3 for Store {
    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let world = self.inner.world.lock().unwrap();
        let buckets: Vec<Bucket> = world
            .buckets
            .values()
            .filter(|b| b.jurisdiction == self.jurisdiction)
            .map(|b| Bucket {
                name: Some(b.name.clone()),
                creation_date: Some(to_ts(b.creation_date)),
                bucket_region: None,
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            ..Default::default()
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let world = self.inner.world.lock().unwrap();
        if !world
            .buckets
            .contains_key(&key(self.jurisdiction, &req.input.bucket))
        {
            return Err(s3_error!(NoSuchBucket));
        }
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        let data = collect(input.body).await?;
        let e_tag = format!("\"{}\"", md5_hex(&data));
        let mut world = self.inner.world.lock().unwrap();
        let Some(bucket) = world
            .buckets
            .get_mut(&key(self.jurisdiction, &input.bucket))
        else {
            return Err(s3_error!(NoSuchBucket));
        };
        precondition(
            bucket.objects.get(&input.key),
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
        )?;
        refuse_if_locked(bucket, &input.key)?;
        bucket.objects.insert(
            input.key,
            Object {
                data,
                last_modified: OffsetDateTime::now_utc(),
                e_tag: e_tag.clone(),
                content_type: input.content_type.map(|c| c.to_string()),
            },
        );
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(e_tag.trim_matches('"').to_string())),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let obj = self.object(&req.input.bucket, &req.input.key)?;
        let len = obj.data.len() as i64;
        let body = StreamingBlob::from(s3s::Body::from(obj.data.clone()));
        Ok(S3Response::new(GetObjectOutput {
            body: Some(body),
            content_length: Some(len),
            e_tag: Some(ETag::Strong(obj.e_tag.trim_matches('"').to_string())),
            last_modified: Some(to_ts(obj.last_modified)),
            content_type: obj.content_type.as_deref().and_then(|c| c.parse().ok()),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let obj = self.object(&req.input.bucket, &req.input.key)?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(obj.data.len() as i64),
            e_tag: Some(ETag::Strong(obj.e_tag.trim_matches('"').to_string())),
            last_modified: Some(to_ts(obj.last_modified)),
            content_type: obj.content_type.as_deref().and_then(|c| c.parse().ok()),
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let mut world = self.inner.world.lock().unwrap();
        let Some(bucket) = world
            .buckets
            .get_mut(&key(self.jurisdiction, &req.input.bucket))
        else {
            return Err(s3_error!(NoSuchBucket));
        };
        if let Some(condition) = &req.input.if_match {
            // S3's conditional delete: an absent key is 404 NoSuchKey, a mismatch 412.
            let Some(current) = bucket.objects.get(&req.input.key) else {
                return Err(s3_error!(NoSuchKey));
            };
            precondition(Some(current), Some(condition), None)?;
        }
        refuse_if_locked(bucket, &req.input.key)?;
        bucket.objects.remove(&req.input.key);
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let world = self.inner.world.lock().unwrap();
        let Some(bucket) = world.buckets.get(&key(self.jurisdiction, &input.bucket)) else {
            return Err(s3_error!(NoSuchBucket));
        };
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let after = input
            .continuation_token
            .clone()
            .or(input.start_after.clone())
            .unwrap_or_default();
        let mut contents = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut truncated = false;
        let mut last = None;
        for (k, obj) in bucket.objects.range::<String, _>((
            std::ops::Bound::Excluded(&after),
            std::ops::Bound::Unbounded,
        )) {
            if !k.starts_with(&prefix) {
                continue;
            }
            let entry = match &delimiter {
                Some(d) => match k[prefix.len()..].find(d.as_str()) {
                    Some(i) => Err(k[..prefix.len() + i + d.len()].to_string()),
                    None => Ok(()),
                },
                None => Ok(()),
            };
            if let Err(p) = &entry
                && prefixes.last() == Some(p)
            {
                continue;
            }
            if contents.len() + prefixes.len() >= max_keys {
                truncated = true;
                break;
            }
            match entry {
                Ok(()) => contents.push(s3s::dto::Object {
                    key: Some(k.clone()),
                    size: Some(obj.data.len() as i64),
                    e_tag: Some(ETag::Strong(obj.e_tag.trim_matches('"').to_string())),
                    last_modified: Some(to_ts(obj.last_modified)),
                    ..Default::default()
                }),
                Err(p) => prefixes.push(p),
            }
            last = Some(k.clone());
        }
        let key_count = (contents.len() + prefixes.len()) as i32;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: input.prefix,
            delimiter: input.delimiter,
            max_keys: Some(max_keys as i32),
            key_count: Some(key_count),
            is_truncated: Some(truncated),
            next_continuation_token: if truncated { last } else { None },
            continuation_token: input.continuation_token,
            start_after: input.start_after,
            contents: Some(contents),
            common_prefixes: Some(
                prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        let mut world = self.inner.world.lock().unwrap();
        if !world
            .buckets
            .contains_key(&key(self.jurisdiction, &input.bucket))
        {
            return Err(s3_error!(NoSuchBucket));
        }
        world.upload_seq += 1;
        let upload_id = format!("upload-{}", world.upload_seq);
        world.uploads.insert(
            upload_id.clone(),
            Upload {
                jurisdiction: self.jurisdiction,
                bucket: input.bucket.clone(),
                key: input.key.clone(),
                parts: BTreeMap::new(),
            },
        );
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        let data = collect(input.body).await?;
        let e_tag = md5_hex(&data);
        let mut world = self.inner.world.lock().unwrap();
        let Some(upload) = world.uploads.get_mut(&input.upload_id) else {
            return Err(s3_error!(NoSuchUpload));
        };
        upload.parts.insert(input.part_number, data);
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(e_tag)),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let mut world = self.inner.world.lock().unwrap();
        let Some(upload) = world.uploads.remove(&input.upload_id) else {
            return Err(s3_error!(NoSuchUpload));
        };
        let mut data = BytesMut::new();
        let wanted: Vec<i32> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.part_number)
            .collect();
        for n in &wanted {
            let Some(part) = upload.parts.get(n) else {
                return Err(s3_error!(InvalidPart));
            };
            data.extend_from_slice(part);
        }
        let data = data.freeze();
        let e_tag = format!("{}-{}", md5_hex(&data), wanted.len());
        let Some(bucket) = world
            .buckets
            .get_mut(&key(upload.jurisdiction, &upload.bucket))
        else {
            return Err(s3_error!(NoSuchBucket));
        };
        precondition(
            bucket.objects.get(&upload.key),
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
        )?;
        refuse_if_locked(bucket, &upload.key)?;
        bucket.objects.insert(
            upload.key.clone(),
            Object {
                data,
                last_modified: OffsetDateTime::now_utc(),
                e_tag: format!("\"{e_tag}\""),
                content_type: None,
            },
        );
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(upload.bucket),
            key: Some(upload.key),
            e_tag: Some(ETag::Strong(e_tag)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let mut world = self.inner.world.lock().unwrap();
        world.uploads.remove(&req.input.upload_id);
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}

/// R2's conditional headers against the object now at the key (R2 docs, "Conditional
/// operations"): `If-Match` passes when the stored ETag equals the one sent (`*`: any object;
/// an absent key fails), `If-None-Match` when it equals none (`*`: only an absent key).
/// ETags compare strongly: a weak one never matches. A failure is 412 `PreconditionFailed`
/// and the write does not happen. The caller holds the world lock, so check and write are one
/// step and of two racing conditional writes exactly one passes.
fn precondition(
    current: Option<&Object>,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    let stored = current.map(|o| o.e_tag.trim_matches('"'));
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => stored.is_some(),
        ETagCondition::ETag(e) => e.as_strong().is_some() && e.as_strong() == stored,
    };
    let pass = if_match.is_none_or(matches) && !if_none_match.is_some_and(matches);
    if pass {
        Ok(())
    } else {
        Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ))
    }
}

/// A delete or overwrite of an object a bucket lock rule retains: 403 with R2's code
/// (`10069 ObjectLockedByBucketPolicy`, https://developers.cloudflare.com/r2/api/error-codes/).
fn refuse_if_locked(bucket: &crate::state::Bucket, object_key: &str) -> S3Result<()> {
    let Some(obj) = bucket.objects.get(object_key) else {
        return Ok(());
    };
    if crate::bucket_config::locked(
        bucket,
        object_key,
        obj.last_modified,
        OffsetDateTime::now_utc(),
    ) {
        let mut e = s3s::S3Error::with_message(
            s3s::S3ErrorCode::Custom("ObjectLockedByBucketPolicy".into()),
            "The object is retained by a bucket lock rule and cannot be deleted or overwritten. (10069)",
        );
        e.set_status_code(hyper::StatusCode::FORBIDDEN);
        return Err(e);
    }
    Ok(())
}

impl Store {
    fn object(&self, bucket: &str, object_key: &str) -> S3Result<Object> {
        let world = self.inner.world.lock().unwrap();
        let Some(b) = world.buckets.get(&key(self.jurisdiction, bucket)) else {
            return Err(s3_error!(NoSuchBucket));
        };
        b.objects
            .get(object_key)
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchKey))
    }
}

/// A multipart upload in progress.
pub(crate) struct Upload {
    pub jurisdiction: &'static str,
    pub bucket: String,
    pub key: String,
    pub parts: BTreeMap<i32, Bytes>,
}

mod md5_hex {
    /// ETags are MD5 hex in S3; clients compare them to their own MD5 of the data.
    pub fn md5_hex(data: &[u8]) -> String {
        use md5::{Digest, Md5};
        hex::encode(Md5::digest(data))
    }
}
