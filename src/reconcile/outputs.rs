//! What is at each declared output: hashed on disk (blocking I/O), and, for one the disk
//! lacks but the inventory records, on the publish branch.

use super::*;

/// What is on disk at each declared output, hashed (blocking I/O).
pub fn output_facts(desired: &Desired) -> BTreeMap<String, OutputFact> {
    Outputs::of(desired).facts()
}

/// What the outputs' check needs of a file: its tokens and temporary credentials, not its
/// buckets (a pass hands this to a blocking thread; a copy of 10,000 buckets per pass
/// would be the daemon's largest allocation).
pub(super) struct Outputs {
    pub(super) output_dir: std::path::PathBuf,
    pub(super) tokens: Vec<(String, std::path::PathBuf)>,
    pub(super) temporary: Vec<crate::config::TemporarySpec>,
}

impl Outputs {
    pub(super) fn of(desired: &Desired) -> Outputs {
        Outputs {
            output_dir: desired.settings.output_dir.clone(),
            tokens: desired
                .tokens
                .iter()
                .map(|t| (t.name.clone(), t.output.file.clone()))
                .collect(),
            temporary: desired.temporary_credentials.clone(),
        }
    }

    pub(super) fn facts(&self) -> BTreeMap<String, OutputFact> {
        self.tokens
            .iter()
            .map(|(name, file)| (name.clone(), output_fact(&self.output_dir, file)))
            .collect()
    }

    /// The same for the temporary credentials' outputs, with what each would show now.
    pub(super) fn temporary_facts(
        &self,
        writer: &OutputWriter,
        skip_outputs: bool,
    ) -> TemporaryFacts {
        TemporaryFacts {
            outputs: self
                .temporary
                .iter()
                .filter(|_| !skip_outputs)
                .map(|t| {
                    (
                        t.name.clone(),
                        output_fact(&self.output_dir, &t.output.file),
                    )
                })
                .collect(),
            details: self
                .temporary
                .iter()
                .map(|t| (t.name.clone(), writer.temporary_details(t)))
                .collect(),
        }
    }
}

pub(super) fn output_fact(output_dir: &std::path::Path, file: &std::path::Path) -> OutputFact {
    match crate::secrets::file_sha256(output_dir, file) {
        Ok(None) => OutputFact::Missing,
        Ok(Some(sha256)) => OutputFact::Present { sha256 },
        Err(e) => OutputFact::Unreadable {
            reason: crate::error::error_chain(&e),
        },
    }
}

/// The output check's second place: each output fact `Missing` whose file the inventory
/// records is looked up on the publish branch (one fetch for all of them). One found there
/// as recorded is `Present` (and, when `recovery.restore`, written back into `output_dir`
/// by the atomic writer: it is the recorded ciphertext). One absent or different stays
/// `Missing`, and rolls as it would without publishing. When the branch cannot be read,
/// each such output is `Unreadable`, so that its token is blocked with the remote's name:
/// a missing file there is not known to be lost, and an unreachable remote must not roll
/// every token whose output a fresh replica lacks. Blocking the tokens concerned rather
/// than failing the pass keeps the rest converging (renewals of temporary credentials
/// whose files are on disk above all).
pub(super) async fn from_branch(
    desired: &Desired,
    inventory: &Inventory,
    outputs: &mut BTreeMap<String, OutputFact>,
    temporary: &mut BTreeMap<String, OutputFact>,
    recovery: &Recovery,
) {
    if desired.settings.publish.is_none() {
        return;
    }
    let files = |facts: &BTreeMap<String, OutputFact>,
                 declared: Vec<(&String, &std::path::PathBuf)>| {
        declared
            .into_iter()
            .filter(|(name, _)| facts.get(*name) == Some(&OutputFact::Missing))
            .map(|(name, file)| (name.clone(), file.clone()))
            .collect::<Vec<_>>()
    };
    let tokens = files(
        outputs,
        desired
            .tokens
            .iter()
            .map(|t| (&t.name, &t.output.file))
            .collect(),
    );
    let temporaries = files(
        temporary,
        desired
            .temporary_credentials
            .iter()
            .map(|t| (&t.name, &t.output.file))
            .collect(),
    );
    let missing: std::collections::BTreeSet<std::path::PathBuf> = tokens
        .iter()
        .chain(&temporaries)
        .map(|(_, f)| f.clone())
        .collect();
    let Some(wanted) = crate::publish::recover::wanted(desired, inventory, &missing) else {
        return;
    };
    let looked_for: std::collections::BTreeSet<std::path::PathBuf> =
        wanted.paths().cloned().collect();
    let (auth, restore) = (recovery.auth.clone(), recovery.restore);
    let output_dir = desired.settings.output_dir.clone();
    let found = tokio::task::spawn_blocking(move || {
        let found = wanted.read(&auth)?;
        Ok::<_, crate::publish::recover::BranchUnreadable>(
            found
                .into_iter()
                .map(|(rel, bytes)| {
                    let fact = restored(&output_dir, &rel, &bytes, restore);
                    (rel, fact)
                })
                .collect::<BTreeMap<_, _>>(),
        )
    })
    .await
    .expect("the blocking read does not panic");
    let facts = match found {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %crate::error::error_chain(&e), "outputs missing here cannot be checked on the publish branch; their tokens are blocked, nothing is rolled");
            let reason = format!(
                "it is missing here, and {}; nothing is rolled until the branch can be read",
                e.line()
            );
            looked_for
                .iter()
                .map(|rel| {
                    (
                        rel.clone(),
                        OutputFact::Unreadable {
                            reason: reason.clone(),
                        },
                    )
                })
                .collect()
        }
    };
    for (names, facts_of) in [(tokens, &mut *outputs), (temporaries, &mut *temporary)] {
        for (name, file) in names {
            if let Some(fact) = facts.get(&file) {
                facts_of.insert(name, fact.clone());
            }
        }
    }
}

/// The fact of an output found on the publish branch: present with the recorded hash; with
/// `restore`, once it is written back into `output_dir` (0600, atomic, no symlink followed).
pub(super) fn restored(
    output_dir: &std::path::Path,
    rel: &std::path::Path,
    bytes: &[u8],
    restore: bool,
) -> OutputFact {
    use sha2::Digest;
    let sha256 = hex::encode(sha2::Sha256::digest(bytes));
    if !restore {
        return OutputFact::Present { sha256 };
    }
    match crate::secrets::write::write_atomic(output_dir, rel, bytes, None) {
        Ok(()) => {
            tracing::info!(file = %rel.display(), "restored from the publish branch");
            OutputFact::Present { sha256 }
        }
        Err(e) => OutputFact::Unreadable {
            reason: format!(
                "it is on the publish branch, but restoring it failed: {}",
                crate::error::error_chain(&e)
            ),
        },
    }
}
