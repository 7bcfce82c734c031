"""Checks recorded emulator answers against Cloudflare's OpenAPI subset.

argv: SPEC_PATH RECORD_PATH. RECORD is a JSON list of {"method", "path", "status", "body"}
where "path" is the spec's path template (account-token paths are given as the user-token
paths: same shapes, absent from the 2024 spec). Exits 1 listing every mismatch.

Gaps allowed, each a known difference between the 2024 schema and the live API:
- list buckets: the live API's result is {"buckets": [...]}, not a bare array: the items are
  checked against r2_bucket and the envelope against r2_v4_response_list.
- bucket location: the live API answers in upper case (terraform-provider-cloudflare #6026,
  #6211); compared lower-cased.
- token failures: the spec's 4XX schemas combine the success and the failure envelope with
  allOf, which no answer can satisfy; failures are checked against the failure envelope.
"""
import copy
import json
import sys

from openapi_schema_validator import OAS30Validator

spec = json.load(open(sys.argv[1]))
records = json.load(open(sys.argv[2]))


def resolve(node, depth=0):
    if depth > 40:
        return node
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            return resolve(target, depth + 1)
        return {k: resolve(v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, depth + 1) for v in node]
    return node


def schema_for(method, path, status):
    responses = spec["paths"][path][method.lower()]["responses"]
    key = str(status) if str(status) in responses else f"{str(status)[0]}XX"
    return resolve(responses[key]["content"]["application/json"]["schema"])


def lower_locations(body):
    body = copy.deepcopy(body)
    result = body.get("result")
    buckets = result.get("buckets", []) if isinstance(result, dict) and "buckets" in result else [result]
    for b in buckets:
        if isinstance(b, dict) and isinstance(b.get("location"), str):
            b["location"] = b["location"].lower()
    return body


problems = []
checked = 0
for rec in records:
    method, path, status, body = rec["method"], rec["path"], rec["status"], rec["body"]
    if "/r2/buckets" in path:
        body = lower_locations(body)
    if method == "GET" and path == "/accounts/{account_id}/r2/buckets" and status == 200:
        envelope = resolve({"$ref": "#/components/schemas/r2_v4_response_list"})
        bucket = resolve({"$ref": "#/components/schemas/r2_bucket"})
        checks = [(envelope, body)] + [(bucket, b) for b in body["result"]["buckets"]]
    elif path.startswith("/user/tokens") and status >= 400:
        failure = resolve({"$ref": "#/components/schemas/iam_api-response-common-failure"})
        checks = [(failure, body)]
    else:
        checks = [(schema_for(method, path, status), body)]
    for schema, instance in checks:
        checked += 1
        for error in OAS30Validator(schema).iter_errors(instance):
            problems.append(f"{method} {path} {status}: {error.json_path}: {error.message}")

for p in problems:
    print(p)
print(f"conformance: {checked} checks, {len(problems)} problems")
sys.exit(1 if problems else 0)
