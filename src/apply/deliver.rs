//! Delivering a fresh value: its output written (never by a runner whose lease on the
//! state lapsed), recorded, and self-tested; and the removal of outputs whose credentials
//! are dead.

use time::OffsetDateTime;

use super::{Applier, Fresh, Outcome, Rolled, Shared, StepReport, error_chain, report};
use crate::cloudflare::WriteApi;
use crate::inventory::TokenRecord;
use crate::plan::Step;

impl<W: WriteApi> Applier<'_, W> {
    /// Write a fresh value's output, record it, and run the output's self-test.
    pub(super) async fn deliver(
        &self,
        step: &Step,
        fresh: Fresh<'_>,
        shared: &Shared,
    ) -> StepReport {
        let Fresh {
            token,
            owner,
            id,
            value,
            rolled,
            modified_on,
        } = fresh;
        let spec = self.spec(token).clone();
        if let Some(why) = shared.fenced() {
            let what = if rolled.is_some() {
                "rolled"
            } else {
                "created"
            };
            tracing::error!(token = %token, id = %id, "{why}");
            return report(
                step,
                Outcome::Failed(format!("token {what} ({id}), but {why}")),
            );
        }
        let now = OffsetDateTime::now_utc();
        let written = {
            let (writer, spec, id, value) = (
                self.writer.clone(),
                spec.clone(),
                id.to_string(),
                value.clone(),
            );
            tokio::task::spawn_blocking(move || writer.write(&spec, &id, &value, now)).await
        };
        let written = match written {
            Ok(Ok(record)) => Ok(record),
            Ok(Err(e)) => Err(error_chain(&e)),
            Err(e) => Err(e.to_string()),
        };
        let previous = shared
            .inventory
            .lock()
            .await
            .tokens
            .get(token)
            .filter(|t| t.id == id)
            .cloned();
        let record = TokenRecord {
            id: id.to_string(),
            owner,
            created_at: match (&rolled, &previous) {
                (Some(_), Some(p)) => p.created_at,
                _ => now,
            },
            rolled_at: rolled.is_some().then_some(now),
            modified_on,
            output: written.as_ref().ok().cloned(),
            unheld: false,
        };
        shared
            .update(|inv| {
                inv.tokens.insert(token.to_string(), record);
                inv.pending.remove(token);
            })
            .await;
        let mut r = match &written {
            Ok(_) => report(step, Outcome::Done),
            Err(e) => {
                let what = if rolled.is_some() {
                    "rolled"
                } else {
                    "created"
                };
                report(
                    step,
                    Outcome::Failed(format!(
                        "token {what} ({id}), but its output could not be written: {e}; the next pass rolls it again"
                    )),
                )
            }
        };
        if written.is_ok() {
            if let (
                Some(Rolled {
                    moved_from: Some(from),
                }),
                Some(prev),
            ) = (&rolled, &previous)
            {
                self.remove_moved_output(from, prev);
            }
            r.verify = self.writer.verify(&spec, id, &value).await;
        }
        r
    }

    /// After a roll for a moved output: the old file holds a dead value; remove it if it is
    /// still exactly what r2gitops wrote (anything else is left alone).
    pub(super) fn remove_moved_output(&self, from: &std::path::Path, previous: &TokenRecord) {
        let _ = self.remove_recorded_output(from, previous);
    }

    /// Remove `path` if it is exactly the output recorded for `record`. `None` when it is
    /// gone (removed now, or already); otherwise why it was left alone.
    pub(super) fn remove_recorded_output(
        &self,
        path: &std::path::Path,
        record: &TokenRecord,
    ) -> Option<String> {
        let out = record.output.as_ref().filter(|o| o.path == path)?;
        let dir = self.writer.output_dir();
        match crate::secrets::file_sha256(dir, path) {
            Ok(None) => None,
            Ok(Some(sha)) if sha == out.ciphertext_sha256 => {
                match std::fs::remove_file(dir.join(path)) {
                    Ok(()) => {
                        tracing::info!(file = %path.display(), "removed an output whose credentials are dead");
                        None
                    }
                    Err(e) => Some(format!("removing it failed: {e}")),
                }
            }
            Ok(Some(_)) => Some("it changed since it was written".into()),
            Err(e) => Some(format!("it cannot be checked: {e}")),
        }
    }
}
