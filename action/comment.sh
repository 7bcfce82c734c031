#!/usr/bin/env bash
# Step 3 of action.yml: on a pull request, the plan as one comment per file, found again by
# its hidden marker `<!-- r2gitops:plan:FILE -->` and updated in place (tfcmt's -patch).
# With skip-no-changes, an empty plan makes no new comment, but an existing one is updated
# to say "no changes" (tfcmt's -skip-no-changes). A failed plan is said in the comment too.
#
# Runner variables it reads: GITHUB_EVENT_NAME, GITHUB_EVENT_PATH (the pull request's
# number and head), GITHUB_API_URL, GITHUB_REPOSITORY; GITHUB_TOKEN is the github-token input.
set -euo pipefail

file=${R2GITOPS_ACTION_FILE:-r2gitops.yaml}
code=${R2GITOPS_ACTION_EXITCODE:-1}
md=${R2GITOPS_ACTION_MARKDOWN:-}
id=${R2GITOPS_ACTION_PLAN_ID:-}

if [ "${GITHUB_EVENT_NAME:-}" != pull_request ]; then
  echo "not a pull request (${GITHUB_EVENT_NAME:-no event}): no comment"
  exit 0
fi
[ "${R2GITOPS_ACTION_COMMENT:-true}" = true ] || { echo "comment: false"; exit 0; }
[ "${R2GITOPS_ACTION_COMMAND:-plan}" = plan ] || exit 0
case "$file" in
  *--* | *$'\n'*) echo "::error title=r2gitops::the file name '$file' cannot be put in a comment marker (no '--', no newline)"; exit 1 ;;
esac
marker="<!-- r2gitops:plan:$file -->"
pr=$(jq -r '.pull_request.number // empty' "${GITHUB_EVENT_PATH:?}")
head=$(jq -r '.pull_request.head.sha // empty' "$GITHUB_EVENT_PATH")
[ -n "$pr" ] || { echo "::error title=r2gitops::the event has no pull request number"; exit 1; }
api=${GITHUB_API_URL:-https://api.github.com}/repos/${GITHUB_REPOSITORY:?}
tmp=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/r2gitops-comment.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# One REST call: METHOD URL [BODY_FILE]; the answer in $tmp/answer, fails on a non-2xx.
call() {
  local status
  status=$(curl --silent --show-error --location --retry 3 -o "$tmp/answer" -w '%{http_code}' \
    -X "$1" -H "Authorization: Bearer ${GITHUB_TOKEN:?}" \
    -H 'Accept: application/vnd.github+json' -H 'X-GitHub-Api-Version: 2022-11-28' \
    ${3:+-H 'Content-Type: application/json' --data-binary "@$3"} "$2")
  case "$status" in
    2??) ;;
    *) echo "::error title=r2gitops::GitHub answered $status to $1 $2: $(head -c 500 "$tmp/answer")"; return 1 ;;
  esac
}

# The comment that carries this file's marker, if any (every page, oldest first).
existing=
for page in $(seq 1 100); do
  call GET "$api/issues/$pr/comments?per_page=100&page=$page"
  existing=$(jq -r --arg m "$marker" '[.[] | select(.body | startswith($m))][0].id // empty' "$tmp/answer")
  [ -n "$existing" ] && break
  [ "$(jq 'length' "$tmp/answer")" -lt 100 ] && break
done

if [ "$code" -eq 0 ] && [ "${R2GITOPS_ACTION_SKIP_NO_CHANGES:-true}" = true ] && [ -z "$existing" ]; then
  echo "no changes, and no comment to update: none posted (skip-no-changes)"
  exit 0
fi

# shellcheck disable=SC2016 # the backticks below are Markdown's
{
  echo "$marker"
  case "$code" in
    0 | 2)
      # GitHub keeps at most 65536 characters of a comment; the job summary has the rest.
      if [ "$(wc -c < "$md")" -gt 60000 ]; then
        head -c 60000 "$md"
        printf '\n```\n\n> The plan is longer than a comment can hold: the job summary has all of it.\n'
      else
        cat "$md"
      fi
      if [ "$code" -eq 2 ]; then
        printf '\n**Changes pending.** `r2gitops reconcile --expect-plan %s` applies this plan and no other.\n' "$id"
      fi
      ;;
    *)
      printf '### r2gitops plan: `%s`\n\n**r2gitops could not plan this file (exit code %s): the job log says why.**\n' "$file" "$code"
      ;;
  esac
  printf '\n<sub>r2gitops %s%s</sub>\n' "$(r2gitops --version 2>/dev/null | cut -d' ' -f2)" "${head:+ at $head}"
} > "$tmp/body.md"
jq -n --rawfile body "$tmp/body.md" '{body: $body}' > "$tmp/request.json"

if [ -n "$existing" ]; then
  call PATCH "$api/issues/comments/$existing" "$tmp/request.json"
  echo "updated comment $existing on pull request #$pr"
else
  call POST "$api/issues/$pr/comments" "$tmp/request.json"
  echo "created comment $(jq -r .id "$tmp/answer") on pull request #$pr"
fi
