#!/usr/bin/env python3
"""Checks the Markdown that a reader follows: README.md, docs/ and the emulator's README.

1. Every code fence is closed, and says its language (an unclosed fence swallows the rest
   of the page on GitHub).
2. Every relative link resolves: the file or folder exists inside the repository, and an
   anchor (`page.md#heading`, `#heading`) names a heading of that page as GitHub spells it.
3. Every page under docs/ is listed in docs/README.md, the book's index.
4. Every ```yaml block is a desired-state file (or a fragment of one) that `r2gitops
   validate` accepts. A fragment is merged into a small base file (one bucket
   `media-uploads`, one token `uploader`); `age1...` placeholders become a recipient this
   check generates. Other YAML (Kubernetes, Prometheus) is marked on the line before the
   fence with `<!-- not an r2gitops file -->`; a file shown for its error, with
   `<!-- r2gitops: invalid -->` (it must then fail).
5. Every ```yaml block marked `<!-- r2gitops policy -->` is an operator's policy that
   `r2gitops validate --policy` loads.

Usage: check-docs.py R2GITOPS_BINARY. Exits 1 with one line per problem.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
NOT_CONFIG = "<!-- not an r2gitops file -->"
INVALID = "<!-- r2gitops: invalid -->"
POLICY = "<!-- r2gitops policy -->"
CONFIG_KEYS = {"version", "account_id", "settings", "buckets", "tokens", "temporary_credentials"}

problems = []


def problem(path, line, message):
    problems.append(f"{path.relative_to(ROOT)}:{line}: {message}")


def pages():
    found = [ROOT / "README.md", ROOT / "tests/emulator/README.md"]
    found += sorted((ROOT / "docs").rglob("*.md"))
    return [p for p in found if "node_modules" not in p.parts]


def blocks(path, text, report=True):
    """Split a page into prose lines (with line numbers) and fenced blocks."""
    say = problem if report else (lambda *_: None)
    prose, fences = [], []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^( {0,3})(`{3,}|~{3,})(.*)$", lines[i])
        if not m:
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        fence, info, start = m.group(2), m.group(3).strip(), i
        if not info:
            say(path, start + 1, "a code fence without a language (write ```text for output)")
        j = i + 1
        while j < len(lines) and not re.match(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}\s*$", lines[j]):
            j += 1
        if j == len(lines):
            say(path, start + 1, "the code fence opened here is never closed")
        before = [l.strip() for l in lines[max(0, start - 2):start] if l.strip()]
        fences.append((start + 1, info.split()[0] if info else "", "\n".join(lines[i + 1:j]), before))
        i = j + 1
    return prose, fences


def slug(heading):
    """GitHub's anchor for a heading."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return "".join(c for c in text.replace(" ", "-") if c.isalnum() or c in "-_")


def anchors(path, cache={}):
    if path not in cache:
        prose, _ = blocks(path, path.read_text(encoding="utf-8"), report=False)
        seen, found = {}, set()
        for _, line in prose:
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                base = slug(m.group(1))
                n = seen.get(base, 0)
                found.add(base if n == 0 else f"{base}-{n}")
                seen[base] = n + 1
            for a in re.findall(r'<a\s+(?:id|name)="([^"]+)"', line):
                found.add(a)
        cache[path] = found
    return cache[path]


def check_links(path, prose):
    for number, line in prose:
        # Code spans hold examples, not links.
        line = re.sub(r"`[^`]*`", "", line)
        targets = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", line)
        targets += re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", line)
        for target in targets:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto: (no network here)
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            try:
                dest.relative_to(ROOT)
            except ValueError:
                problem(path, number, f"link {target} leaves the repository")
                continue
            if not dest.exists():
                problem(path, number, f"link {target}: no such file or folder")
                continue
            if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problem(path, number, f"link {target}: {dest.relative_to(ROOT)} has no heading #{anchor}")


def check_index():
    index = ROOT / "docs/README.md"
    if not index.exists():
        problem(ROOT / "docs", 0, "docs/README.md (the index) is missing")
        return
    text = index.read_text(encoding="utf-8")
    linked = {(index.parent / t.partition("#")[0]).resolve() for t in re.findall(r"\]\(([^)#\s]+)", text)}
    for page in sorted((ROOT / "docs").rglob("*.md")):
        if page != index and page.resolve() not in linked and "node_modules" not in page.parts:
            problem(page, 1, "not listed in docs/README.md, the book's index")


class Loader(yaml.SafeLoader):
    """YAML 1.2 as r2gitops reads it: timestamps stay strings, only true/false are booleans."""


Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def base(recipient):
    return {
        "version": 1,
        "settings": {"recipients": [recipient]},
        "buckets": [{"name": "media-uploads"}],
        "tokens": [
            {
                "name": "uploader",
                "access": "object-read-write",
                "buckets": ["media-uploads"],
                "output": {"file": "uploader.env.age", "format": "env"},
            }
        ],
    }


def merge(fragment, recipient):
    """The fragment over the base file: settings merged, lists joined by `name`."""
    doc = base(recipient)
    for key, value in fragment.items():
        if key == "settings" and isinstance(value, dict):
            doc["settings"].update(value)
        elif isinstance(value, list) and isinstance(doc.get(key), list):
            names = {item.get("name") for item in value if isinstance(item, dict)}
            doc[key] = [item for item in doc[key] if item.get("name") not in names] + value
        else:
            doc[key] = value
    return doc


def check_yaml(binary, examples, workdir):
    key = workdir / "docs.key"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run(
        ["age-keygen", "-y", str(key)], check=True, capture_output=True, text=True
    ).stdout.strip()
    for n, (path, number, text, before) in enumerate(examples):
        where = f"{path.relative_to(ROOT)}:{number}"
        text = re.sub(r"age1(\.\.\.|…)", recipient, text)
        try:
            doc = yaml.load(text, Loader=Loader)
        except yaml.YAMLError as e:
            problem(path, number, f"```yaml block does not parse: {e}")
            continue
        if not isinstance(doc, dict) or not set(doc) <= CONFIG_KEYS:
            keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
            problem(
                path,
                number,
                f"```yaml block is not an r2gitops file (keys {keys}); mark it with {NOT_CONFIG} on the line before",
            )
            continue
        file = workdir / f"example-{n}" / "r2gitops.yaml"
        file.parent.mkdir()
        if "version" in doc:
            file.write_text(text, encoding="utf-8")
        else:
            # JSON is YAML: the merged fragment loads as the file it stands for.
            file.write_text(json.dumps(merge(doc, recipient), indent=2), encoding="utf-8")
        out = subprocess.run(
            [binary, "--color", "never", "validate", "-f", str(file)], capture_output=True, text=True
        )
        expect_invalid = INVALID in before
        if expect_invalid and out.returncode == 0:
            problem(path, number, f"the block marked {INVALID} validates")
        elif not expect_invalid and out.returncode != 0:
            detail = out.stderr.strip().replace(str(file), where)
            problem(path, number, f"r2gitops validate refuses this example:\n{detail}")


def check_policies(binary, policies, workdir):
    key = workdir / "policy.key"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run(
        ["age-keygen", "-y", str(key)], check=True, capture_output=True, text=True
    ).stdout.strip()
    file = workdir / "repo" / "r2gitops.yaml"
    file.parent.mkdir()
    file.write_text(json.dumps(base(recipient), indent=2), encoding="utf-8")
    for n, (path, number, text) in enumerate(policies):
        policy = workdir / f"policy-{n}.yaml"
        policy.write_text(re.sub(r"age1(\.\.\.|…)", recipient, text), encoding="utf-8")
        out = subprocess.run(
            [binary, "--color", "never", "validate", "-f", str(file), "--policy", str(policy)],
            capture_output=True,
            text=True,
        )
        if "the policy is not valid" in out.stderr or "cannot read the policy" in out.stderr:
            detail = out.stderr.strip().replace(str(policy), f"{path.relative_to(ROOT)}:{number}")
            problem(path, number, f"r2gitops does not load this policy:\n{detail}")


def main():
    binary = sys.argv[1]
    examples = []
    policies = []
    for path in pages():
        text = path.read_text(encoding="utf-8")
        prose, fences = blocks(path, text)
        check_links(path, prose)
        for number, lang, body, before in fences:
            if lang in ("yaml", "yml") and POLICY in before:
                policies.append((path, number, body))
            elif lang in ("yaml", "yml") and NOT_CONFIG not in before:
                examples.append((path, number, body, before))
    check_index()
    with tempfile.TemporaryDirectory() as tmp:
        check_yaml(binary, examples, Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        check_policies(binary, policies, Path(tmp))
    for p in problems:
        print(p, file=sys.stderr)
    print(
        f"docs: {len(pages())} pages, {len(examples)} YAML examples validated, {len(policies)} policies loaded, {len(problems)} problems"
    )
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
