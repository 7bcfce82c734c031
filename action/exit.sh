#!/usr/bin/env bash
# Step 4 of action.yml: 0 in sync, 0 with changes pending (the comment and the job summary
# say so), r2gitops' exit code otherwise.
set -euo pipefail
code=${R2GITOPS_ACTION_EXITCODE:-1}
[[ $code =~ ^[0-9]+$ ]] || code=1
case "$code" in
  0) echo "r2gitops: in sync" ;;
  2) echo "r2gitops: changes pending (see the plan in the job summary)" ;;
  *) echo "::error title=r2gitops::r2gitops exited $code"; exit "$code" ;;
esac
