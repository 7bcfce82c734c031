//! Hand-built desired states for the unit tests of `plan`, `apply` and `observe`: a file's
//! worth of settings, buckets and tokens without YAML or disk. Test-only.

use std::path::PathBuf;

use crate::config::{
    Access, BucketSpec, Desired, IpRules, Jurisdiction, OutputFormat, OutputSpec, Owner, Settings,
    StorageClass, TokenScope, TokenSpec,
};

pub const ACCT: &str = "0123456789abcdef0123456789abcdef";

/// No buckets or tokens; outputs under `/out`, prune off, max_deletions 10.
pub fn desired() -> Desired {
    Desired {
        source: PathBuf::from("r2gitops.yaml"),
        account_id: Some(ACCT.into()),
        settings: Settings {
            token_name_prefix: "r2gitops:".into(),
            prune: false,
            max_deletions: 10,
            output_dir: PathBuf::from("/out"),
            state_file: PathBuf::from("/out/.r2gitops-state.json"),
            suspend: false,
            recipients_file: None,
            config_resync: std::time::Duration::from_secs(3600),
            publish: None,
            rotation_overlap: None,
            readiness_timeout: std::time::Duration::from_secs(60),
            token_watch: std::time::Duration::from_secs(60),
        },
        buckets: Vec::new(),
        tokens: Vec::new(),
        temporary_credentials: Vec::new(),
        warnings: Vec::new(),
        adopt_rolls: crate::config::AdoptRolls::Refused,
        rotate_now: Default::default(),
        policy: None,
    }
}

/// In `default`, protected, Standard.
pub fn bucket(name: &str) -> BucketSpec {
    BucketSpec {
        name: name.into(),
        jurisdiction: Jurisdiction::Default,
        location_hint: None,
        storage_class: StorageClass::Standard,
        protect: true,
        config: Default::default(),
    }
}

/// object-read-write on `buckets` (in `default`), env output `<name>.env.age`.
pub fn token(name: &str, buckets: &[&str]) -> TokenSpec {
    TokenSpec {
        name: name.into(),
        owner: Owner::Account,
        access: Access::ObjectReadWrite,
        scope: TokenScope::Buckets(buckets.iter().map(|b| b.to_string()).collect()),
        jurisdiction: Jurisdiction::Default,
        not_before: None,
        expires_on: None,
        ip: IpRules::default(),
        rotate_every: None,
        // Roll in place, as before rotation with overlap: the roll tables stay roll tables.
        rotation_overlap: std::time::Duration::ZERO,
        adopt: None,
        output: OutputSpec {
            file: PathBuf::from(format!("{name}.env.age")),
            format: OutputFormat::Env,
            recipients: vec!["age1recipient".into()],
            armor: false,
            include_api_token: false,
            verify: false,
            kubernetes: None,
        },
    }
}
