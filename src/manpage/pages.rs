//! The text of each page's sections that clap does not hold: exit status, environment,
//! files and examples, one constant per page.

use super::{Entry, Extra};

pub(super) const EXIT_USAGE: Entry = (
    "64",
    "A command-line usage error (EX_USAGE): an unknown or mistyped flag, a bad value, a flag without the one it needs. Nothing was done.",
);

pub(super) const LOGGING: [Entry; 3] = [
    (
        "RUST_LOG",
        "Filters the log lines on stderr (e.g. debug, or r2gitops=trace); info and above when unset. No level logs a secret.",
    ),
    (
        "NO_COLOR",
        "When set (to anything), plans, diagnostics and log lines are never coloured, whatever --color auto would choose.",
    ),
    (
        "CLICOLOR_FORCE",
        "Set to 1: colour even when stderr or stdout is not a terminal (NO_COLOR still wins; --color always overrides both).",
    ),
];

const API_TOKEN: Entry = (
    "CLOUDFLARE_API_TOKEN",
    "The API token r2gitops itself runs with, when --api-token-file is not given. See docs/permissions.md for the permission groups it needs.",
);

const S3_ENDPOINTS: Entry = (
    "R2GITOPS_S3_ENDPOINTS",
    "S3 endpoint per jurisdiction written into outputs, as comma-separated JURISDICTION=URL pairs (an emulator's endpoints); --s3-endpoint adds to it.",
);

const STATE_CREDENTIALS: Entry = (
    "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN",
    "With --state r2://BUCKET/KEY: the S3 credentials of the state bucket (the session token only for temporary ones), unless --state-credentials-file is given. Ignored (and logged) with --state-credentials temporary, which mints them.",
);

const DESIRED_FILE: Entry = (
    "r2gitops.yaml",
    "The desired-state file (-f/--file), committed to git. Its paths (settings.output_dir, settings.state_file, settings.recipients_file) are relative to its directory.",
);

const OUTPUTS: Entry = (
    "<output_dir>/<output.file>",
    "Each token's (and temporary credential's) S3 credentials, age-encrypted to its recipients, mode 0600, in a 0700 directory; output_dir is settings.output_dir (default secrets/ beside the file) or --output-dir.",
);

const INVENTORY: Entry = (
    "<output_dir>/.r2gitops-state.json",
    "The inventory (settings.state_file): non-secret token ids, timestamps, output paths and hashes. Lost, it is rebuilt from Cloudflare and never causes a deletion.",
);

const LOCK: Entry = (
    "<state_file>.lock",
    "Held (flock) by an applying reconcile, a watch daemon or adopt: one writer per inventory.",
);

const TOKEN_FILE: Entry = (
    "--api-token-file PATH",
    "The API token, alone on one line; a file others can read gets a warning. watch re-reads it every pass.",
);

/// The tool's own page and each command's, by `r2gitops man NAME`.
pub(super) fn extra(command: Option<&str>) -> Extra {
    match command {
        None => TOOL_PAGE,
        Some("validate") => VALIDATE_PAGE,
        Some("schema") => SCHEMA_PAGE,
        Some("reconcile") => RECONCILE_PAGE,
        Some("rotate") => ROTATE_PAGE,
        Some("watch") => WATCH_PAGE,
        Some("import") => IMPORT_PAGE,
        Some("adopt") => ADOPT_PAGE,
        Some("completions") => COMPLETIONS_PAGE,
        Some("state") => STATE_PAGE,
        Some("man") => MAN_PAGE,
        Some(_) => OTHER_PAGE,
    }
}

/// `r2gitops man`: the tool's own page.
const TOOL_PAGE: Extra = Extra {
    exit_status: &[
        ("0", "Success (reconcile --dry-run: the plan was shown)."),
        (
            "1",
            "An error: an invalid file, a refused plan, a failed step, the inventory lock held by another r2gitops.",
        ),
        (
            "2",
            "reconcile --dry-run --detailed-exitcode: the file and Cloudflare differ.",
        ),
        EXIT_USAGE,
    ],
    environment: &[API_TOKEN, S3_ENDPOINTS],
    files: &[DESIRED_FILE, OUTPUTS, INVENTORY, LOCK],
    examples: &[
        ("Check a file offline, in any CI.", "r2gitops validate"),
        (
            "Show the plan; exit 2 when changes are pending.",
            "r2gitops reconcile --dry-run --detailed-exitcode",
        ),
        ("Apply the plan once.", "r2gitops reconcile"),
        ("Run as a daemon.", "r2gitops watch --interval 10m"),
        (
            "Write a file from an existing account.",
            "r2gitops import -o r2gitops.yaml",
        ),
    ],
};

/// `r2gitops man validate`.
const VALIDATE_PAGE: Extra = Extra {
    exit_status: &[
        ("0", "The file is valid (warnings may have been printed)."),
        (
            "1",
            "The file is invalid or cannot be read; every problem is reported with its file, line, column and field.",
        ),
        EXIT_USAGE,
    ],
    environment: &[],
    files: &[
        DESIRED_FILE,
        (
            "settings.recipients_file",
            "A file of age recipients, one a line; read and checked too.",
        ),
    ],
    examples: &[
        (
            "Check the file in the current directory.",
            "r2gitops validate",
        ),
        (
            "Check another file against the daemon's bounds, as JSON.",
            "r2gitops validate -f team/r2gitops.yaml --min-temporary-ttl 1h --output json",
        ),
    ],
};

/// `r2gitops man schema`.
const SCHEMA_PAGE: Extra = Extra {
    exit_status: &[
        ("0", "The schema was printed."),
        ("1", "stdout could not be written."),
        EXIT_USAGE,
    ],
    environment: &[],
    files: &[(
        "r2gitops.schema.json",
        "Where editors look for it when the desired-state file starts with # yaml-language-server: $schema=./r2gitops.schema.json.",
    )],
    examples: &[(
        "Save the schema for an editor.",
        "r2gitops schema > r2gitops.schema.json",
    )],
};

/// `r2gitops man reconcile`.
const RECONCILE_PAGE: Extra = Extra {
    exit_status: &[
        ("0", "Success; with --dry-run, the plan was shown."),
        (
            "1",
            "An error, an invalid file, a refused plan (more deletions than settings.max_deletions), a failed step, the inventory lock (or the --state lease) held by another r2gitops, or the --state object written by another runner during the pass.",
        ),
        (
            "2",
            "With --dry-run --detailed-exitcode: changes are pending (or something is blocked).",
        ),
        EXIT_USAGE,
    ],
    environment: &[API_TOKEN, S3_ENDPOINTS, STATE_CREDENTIALS],
    files: &[DESIRED_FILE, OUTPUTS, INVENTORY, LOCK, TOKEN_FILE],
    examples: &[
        (
            "Apply with the inventory and its lease in R2, waiting up to a minute for another runner.",
            "r2gitops reconcile --state r2://r2gitops-state/prod.json --lock-timeout 1m",
        ),
        (
            "The same with no S3 key anywhere: r2gitops mints the state's credentials under its token r2gitops:state, and renews them.",
            "r2gitops reconcile --state r2://r2gitops-state/prod.json --state-credentials temporary",
        ),
        (
            "The plan in CI, without the output files: exit 2 when changes are pending.",
            "r2gitops reconcile --dry-run --skip-outputs --detailed-exitcode --output markdown",
        ),
        (
            "Apply the plan once.",
            "r2gitops reconcile -f r2gitops.yaml",
        ),
        (
            "Apply, adopting at most one token without its value by rolling it.",
            "r2gitops reconcile --allow-adopt-roll --max-adopt-rolls 1",
        ),
    ],
};

/// `r2gitops man rotate`.
const ROTATE_PAGE: Extra = Extra {
    exit_status: &[
        (
            "0",
            "The new key passed its probe and was written; the old one retires after the overlap (or was revoked with --revoke-old).",
        ),
        (
            "1",
            "No such declared token, the new key was not ready within settings.readiness_timeout (it was deleted; the old key and the file are untouched), another error, or the inventory lock held by another r2gitops.",
        ),
        EXIT_USAGE,
    ],
    environment: &[API_TOKEN, S3_ENDPOINTS],
    files: &[DESIRED_FILE, OUTPUTS, INVENTORY, LOCK, TOKEN_FILE],
    examples: &[
        (
            "Rotate a token now; its old key keeps working for its rotation_overlap.",
            "r2gitops rotate reader",
        ),
        (
            "A leaked secret: the old key is deleted as soon as the new one is written.",
            "r2gitops rotate reader --revoke-old",
        ),
    ],
};

/// `r2gitops man watch`.
const WATCH_PAGE: Extra = Extra {
    exit_status: &[
        (
            "0",
            "Stopped by SIGTERM or SIGINT after finishing the step in flight.",
        ),
        (
            "1",
            "Could not start: a bad flag value, an unreadable token file, a listener that cannot bind, or the inventory lock held by another r2gitops (naming its PID).",
        ),
        EXIT_USAGE,
    ],
    environment: &[API_TOKEN, S3_ENDPOINTS, STATE_CREDENTIALS],
    files: &[
        DESIRED_FILE,
        OUTPUTS,
        INVENTORY,
        LOCK,
        TOKEN_FILE,
        (
            "--status-token-file PATH",
            "The bearer token /status then requires on every listener, alone on one line.",
        ),
    ],
    examples: &[
        (
            "The daemon, with probes and metrics on loopback.",
            "r2gitops watch --interval 10m --listen 127.0.0.1:9477",
        ),
        (
            "Metrics facing the network, /status on loopback beside it.",
            "r2gitops watch --listen 0.0.0.0:9477 --status-listen 127.0.0.1:9478",
        ),
        ("Start a pass now.", "kill -HUP $(pidof r2gitops)"),
    ],
};

/// `r2gitops man import`.
const IMPORT_PAGE: Extra = Extra {
    exit_status: &[
        ("0", "The file was written."),
        (
            "1",
            "An error: Cloudflare could not be read, or --out exists (without --force).",
        ),
        EXIT_USAGE,
    ],
    environment: &[API_TOKEN, S3_ENDPOINTS, STATE_CREDENTIALS],
    files: &[
        (
            "--out FILE",
            "The desired-state file written (stdout without it); never overwritten without --force.",
        ),
        (
            "--state-file PATH",
            "An inventory whose tokens are declared as managed, under their recorded names.",
        ),
    ],
    examples: &[
        (
            "Write down an account: every bucket and token, every configuration block.",
            "r2gitops import -o r2gitops.yaml",
        ),
        (
            "Only EU buckets, without their configuration.",
            "r2gitops import --jurisdiction eu --with none --out eu.yaml",
        ),
    ],
};

/// `r2gitops man adopt`.
const ADOPT_PAGE: Extra = Extra {
    exit_status: &[
        (
            "0",
            "The value belongs to the token: its output was written and the token recorded.",
        ),
        (
            "1",
            "The value was refused (it verified as another token, or not at all), the inventory lock (or the --state lease) held by another r2gitops, or another error.",
        ),
        EXIT_USAGE,
    ],
    environment: &[API_TOKEN, S3_ENDPOINTS, STATE_CREDENTIALS],
    files: &[DESIRED_FILE, OUTPUTS, INVENTORY, LOCK],
    examples: &[
        (
            "Hand over a token's current value, with no downtime.",
            "r2gitops adopt backup-reader --value-from-stdin < value.txt",
        ),
        (
            "The same from a file.",
            "r2gitops adopt backup-reader --value-file /run/secrets/backup-reader",
        ),
    ],
};

/// `r2gitops man completions`.
const COMPLETIONS_PAGE: Extra = Extra {
    exit_status: &[
        ("0", "The script was printed."),
        ("1", "stdout could not be written."),
        EXIT_USAGE,
    ],
    environment: &[],
    files: &[(
        "/etc/bash_completion.d/r2gitops",
        "Where bash-completion loads a script from (zsh: a directory on $fpath, as _r2gitops; fish: ~/.config/fish/completions/r2gitops.fish).",
    )],
    examples: &[
        (
            "Bash completion for every user.",
            "r2gitops completions bash > /etc/bash_completion.d/r2gitops",
        ),
        (
            "Fish completion for one user.",
            "r2gitops completions fish > ~/.config/fish/completions/r2gitops.fish",
        ),
    ],
};

/// `r2gitops man state`.
const STATE_PAGE: Extra = Extra {
    exit_status: &[
        (
            "0",
            "The inventory was printed, or migrated and read back equal.",
        ),
        (
            "1",
            "An error: the state unreadable or invalid, a lock or lease held by another r2gitops, a destination that already holds an inventory. Nothing was changed.",
        ),
        EXIT_USAGE,
    ],
    environment: &[API_TOKEN, S3_ENDPOINTS, STATE_CREDENTIALS],
    files: &[INVENTORY, LOCK],
    examples: &[
        (
            "Print the inventory in R2.",
            "r2gitops state show --state r2://r2gitops-state/prod.json",
        ),
        (
            "Move the local inventory to R2.",
            "r2gitops state migrate --to r2://r2gitops-state/prod.json",
        ),
        (
            "And back to a file.",
            "r2gitops state migrate --state r2://r2gitops-state/prod.json --to secrets/.r2gitops-state.json",
        ),
    ],
};

/// `r2gitops man man`.
const MAN_PAGE: Extra = Extra {
    exit_status: &[
        ("0", "The page was printed."),
        ("1", "stdout could not be written."),
        EXIT_USAGE,
    ],
    environment: &[],
    files: &[(
        "r2gitops.1, r2gitops-COMMAND.1",
        "The pages, e.g. under /usr/local/share/man/man1.",
    )],
    examples: &[
        ("The tool's page.", "r2gitops man > r2gitops.1"),
        (
            "Every command's page.",
            "for c in validate schema reconcile watch import adopt state completions man; do r2gitops man $c > r2gitops-$c.1; done",
        ),
        (
            "Read one without installing it.",
            "r2gitops man reconcile > /tmp/r.1 && man -l /tmp/r.1",
        ),
    ],
};

/// A command with no page of its own: the bare minimum.
const OTHER_PAGE: Extra = Extra {
    exit_status: &[("0", "Success."), ("1", "An error."), EXIT_USAGE],
    environment: &[],
    files: &[],
    examples: &[],
};
