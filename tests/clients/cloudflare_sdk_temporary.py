"""Issues a temporary credential through Cloudflare's official Python SDK (package
`cloudflare`, `client.r2.temporary_credentials.create`) and uses it with boto3.

argv: API_URL ACCOUNT_ID S3_URL PARENT_ACCESS_KEY_ID (the admin token comes in
CLOUDFLARE_API_TOKEN). The bucket `sdk-temp` must exist and the parent must cover it.
Prints one JSON object describing what it saw (never a secret); exits non-zero on any SDK
error.
"""
import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from cloudflare import Cloudflare

api_url, account, s3_url, parent = sys.argv[1:5]
cf = Cloudflare(api_token=os.environ["CLOUDFLARE_API_TOKEN"], base_url=api_url, max_retries=0)
creds = cf.r2.temporary_credentials.create(
    account_id=account,
    bucket="sdk-temp",
    parent_access_key_id=parent,
    permission="object-read-write",
    ttl_seconds=900,
    prefixes=["in/"],
)
seen = {
    "access_key_id_length": len(creds.access_key_id or ""),
    "has_secret": bool(creds.secret_access_key),
    "has_session_token": bool(creds.session_token),
}
s3 = boto3.client(
    "s3",
    endpoint_url=s3_url,
    aws_access_key_id=creds.access_key_id,
    aws_secret_access_key=creds.secret_access_key,
    aws_session_token=creds.session_token,
    region_name="auto",
    config=Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"max_attempts": 1},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    ),
)
s3.put_object(Bucket="sdk-temp", Key="in/a.txt", Body=b"inside")
seen["inside"] = "ok"
try:
    s3.put_object(Bucket="sdk-temp", Key="out/a.txt", Body=b"outside")
    seen["outside"] = "ok"
except ClientError as e:
    seen["outside"] = e.response["Error"]["Code"]
print(json.dumps(seen))
