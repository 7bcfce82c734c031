"""Runs S3 operations with boto3 (a real client nobody here wrote) and reports each outcome.

stdin: JSON list of operations, each
  {"endpoint", "key_id", "secret", "session_token"?, "op", "bucket"?, "key"?, "body"?, "prefix"?}
  op: put | get | list | head_bucket | list_buckets | delete | multipart | list_token_unsigned
      | race_put
  put and delete take "if_match" and put "if_none_match", sent through boto3's own IfMatch and
  IfNoneMatch parameters; put and get report the object's "etag". race_put starts "threads"
  conditional puts of one key together (a barrier) and reports each one's result in "results".
  With "session_token", boto3 sends it as X-Amz-Security-Token (temporary credentials);
  list_token_unsigned sends it without signing it (the signature must cover it).
stdout: JSON list of results, {"ok": true, "body"?: str, "keys"?: [...]} or
  {"ok": false, "error": code, "status": HTTP status}
"""
import json
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError


def client(op):
    return boto3.client(
        "s3",
        endpoint_url=op["endpoint"],
        aws_access_key_id=op["key_id"],
        aws_secret_access_key=op["secret"],
        aws_session_token=op.get("session_token"),
        region_name="auto",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def run(op):
    s3 = client(op)
    kind = op["op"]
    if kind == "put":
        resp = s3.put_object(
            Bucket=op["bucket"], Key=op["key"], Body=op.get("body", "").encode(), **conditions(op)
        )
        return {"ok": True, "etag": resp["ETag"]}
    if kind == "get":
        resp = s3.get_object(Bucket=op["bucket"], Key=op["key"])
        return {"ok": True, "body": resp["Body"].read().decode(), "etag": resp["ETag"]}
    if kind == "list":
        extra = {"Prefix": op["prefix"]} if "prefix" in op else {}
        resp = s3.list_objects_v2(Bucket=op["bucket"], **extra)
        return {"ok": True, "keys": [o["Key"] for o in resp.get("Contents", [])]}
    if kind == "head_bucket":
        s3.head_bucket(Bucket=op["bucket"])
        return {"ok": True}
    if kind == "list_buckets":
        return {"ok": True, "keys": [b["Name"] for b in s3.list_buckets().get("Buckets", [])]}
    if kind == "delete":
        s3.delete_object(Bucket=op["bucket"], Key=op["key"], **conditions(op))
        return {"ok": True}
    if kind == "race_put":
        return race_put(op)
    if kind == "multipart":
        import io

        data = (op.get("body", "x") * 1024 * 1024 * 11)[: 11 * 1024 * 1024].encode()
        cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
        s3.upload_fileobj(io.BytesIO(data), op["bucket"], op["key"], Config=cfg)
        got = s3.get_object(Bucket=op["bucket"], Key=op["key"])["Body"].read()
        return {"ok": got == data, "size": len(got)}
    if kind == "list_token_unsigned":
        return list_token_unsigned(op)
    raise SystemExit(f"unknown op {kind}")


def conditions(op):
    extra = {}
    if "if_match" in op:
        extra["IfMatch"] = op["if_match"]
    if "if_none_match" in op:
        extra["IfNoneMatch"] = op["if_none_match"]
    return extra


def race_put(op):
    """Conditional puts of one key from several threads released at once by a barrier."""
    import threading

    n = op["threads"]
    clients = [client(op) for _ in range(n)]
    barrier = threading.Barrier(n)
    results = [None] * n

    def one(i):
        body = f"{op.get('body', '')}{i}".encode()
        barrier.wait()
        try:
            clients[i].put_object(Bucket=op["bucket"], Key=op["key"], Body=body, **conditions(op))
            results[i] = {"ok": True, "body": body.decode()}
        except ClientError as e:
            results[i] = {
                "ok": False,
                "error": e.response["Error"]["Code"],
                "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
            }

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"ok": True, "results": results}


def list_token_unsigned(op):
    """ListObjectsV2 signed without the session token, which is then added as a header."""
    import re
    import urllib.error
    import urllib.request

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{op['endpoint']}/{op['bucket']}?list-type=2"
    req = AWSRequest(method="GET", url=url)
    S3SigV4Auth(Credentials(op["key_id"], op["secret"]), "s3", "auto").add_auth(req)
    headers = dict(req.headers.items())
    headers["X-Amz-Security-Token"] = op["session_token"]
    try:
        urllib.request.urlopen(urllib.request.Request(url, headers=headers))
        return {"ok": True}
    except urllib.error.HTTPError as e:
        code = re.search(r"<Code>(.*?)</Code>", e.read().decode())
        return {"ok": False, "error": code.group(1) if code else str(e.code)}


def main():
    out = []
    for op in json.load(sys.stdin):
        try:
            out.append(run(op))
        except ClientError as e:
            out.append({
                "ok": False,
                "error": e.response["Error"]["Code"],
                "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
            })
    json.dump(out, sys.stdout)


main()
