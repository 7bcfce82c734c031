"""Runs S3 operations with boto3 configured from the environment alone, as a pod whose
Deployment says `envFrom: [{secretRef: ...}]` would: credentials, the S3 endpoint
(AWS_ENDPOINT_URL_S3), the region and the checksum settings come from AWS_* variables; only
the addressing style is set here (the emulator listens on an IP address).

argv: operations, each `list:BUCKET` or `put:BUCKET:KEY` or `get:BUCKET:KEY`.
stdout: one line per operation, `ok` or the S3 error code.
"""
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
for op in sys.argv[1:]:
    kind, bucket, *key = op.split(":", 2)
    try:
        if kind == "list":
            s3.list_objects_v2(Bucket=bucket)
        elif kind == "put":
            s3.put_object(Bucket=bucket, Key=key[0], Body=b"hello")
        elif kind == "get":
            s3.get_object(Bucket=bucket, Key=key[0])["Body"].read()
        else:
            raise SystemExit(f"unknown operation {kind}")
        print("ok")
    except ClientError as e:
        print(e.response["Error"]["Code"])
