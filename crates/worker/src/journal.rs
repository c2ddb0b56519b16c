//! The agent's crash-safe journal: `worker.jsonl` in its data dir.
//!
//! One JSON record per line: a header naming the chain, contract and agent; the event cursor;
//! and the latest state of each job (a later line for the same job replaces an earlier one).
//! Records are appended and synced (`fdatasync`) in groups before any action that depends on
//! them starts, so after `kill -9` the file holds every result and salt a sent transaction
//! binds. A torn last line (the crash hit mid-write) is dropped; a bad line before the last is
//! corruption and refuses to open. Opening rewrites the file with only the live records (atomic
//! rename), and a long-running agent does the same when stale lines pile up.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use agency_chain::Terms;

use crate::machine::JobState;

/// The journal's file name in the data dir.
pub const FILE: &str = "worker.jsonl";

/// Why the journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a journal record ({reason}); move the file away to start afresh")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(
        "{path} belongs to agent {found_agent} of contract {found_agency} on chain {found_chain}, \
         not agent {agent} of {agency} on chain {chain}; use another data dir"
    )]
    Other {
        path: PathBuf,
        found_chain: u64,
        found_agency: Address,
        found_agent: Address,
        chain: u64,
        agency: Address,
        agent: Address,
    },
}

/// Whose journal it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub chain: u64,
    pub agency: Address,
    pub agent: Address,
}

/// One job as journaled: what names it on chain, and the agent's state.
///
/// The terms are the contract's own [`Terms`], serialized by serde with their Solidity field
/// names. Journals written before that (a `TermsRecord` copy with the same names) differ only
/// in `deadline`, then a JSON number, now hex text; both are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: B256,
    pub terms: Terms,
    pub index: u32,
    /// The spec digest.
    pub spec: B256,
    pub state: JobState,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Record {
    Header(Header),
    Cursor(u64),
    Job(Box<JobRecord>),
}

/// What a journal held when it was opened.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The next block to scan for events.
    pub cursor: Option<u64>,
    /// Every job not done, in the order first seen.
    pub jobs: Vec<JobRecord>,
}

/// The open journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    header: Header,
    pending: Vec<u8>,
    lines: usize,
}

impl Journal {
    /// Opens (or creates) the journal in `dir` for `header`'s agent; returns what it held.
    pub fn open(dir: &Path, header: Header) -> Result<(Self, Loaded), JournalError> {
        std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
        let path = dir.join(FILE);
        let loaded = match std::fs::read(&path) {
            Ok(bytes) => parse(&path, &bytes, header)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Loaded::default(),
            Err(e) => return Err(io("reading", &path, e)),
        };
        let mut journal = Self {
            file: File::open(dir).map_err(|e| io("opening", dir, e))?,
            path,
            header,
            pending: Vec::new(),
            lines: 0,
        };
        journal.rewrite(loaded.cursor, loaded.jobs.iter())?;
        Ok((journal, loaded))
    }

    /// Queues a job's state; written at the next [`Journal::sync`].
    pub fn job(&mut self, record: &JobRecord) {
        self.push(&Record::Job(Box::new(record.clone())));
    }

    /// Queues the event cursor; written at the next [`Journal::sync`].
    pub fn cursor(&mut self, next_block: u64) {
        self.push(&Record::Cursor(next_block));
    }

    /// Lines in the file (stale ones included).
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Writes the queued records and waits until they are on disk.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        append_synced(&mut self.file, &self.pending).map_err(|e| io("writing", &self.path, e))?;
        self.pending.clear();
        Ok(())
    }

    /// [`Journal::sync`] on the blocking pool: the flush waits on the disk without holding an
    /// async thread the agent's other tasks (runs, chain calls) need meanwhile.
    pub async fn sync_off_thread(&mut self) -> Result<(), JournalError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut file = self
            .file
            .try_clone()
            .map_err(|e| io("writing", &self.path, e))?;
        let mut bytes = std::mem::take(&mut self.pending);
        let written = tokio::task::spawn_blocking(move || {
            append_synced(&mut file, &bytes).map(|()| {
                bytes.clear();
                bytes
            })
        })
        .await
        .map_err(|e| io("writing", &self.path, std::io::Error::other(e)))?;
        // On failure the agent stops (the records may be half written); nothing is retried.
        self.pending = written.map_err(|e| io("writing", &self.path, e))?;
        Ok(())
    }

    /// Replaces the file with only these records (atomically: a temporary file, synced, then
    /// renamed over the journal).
    pub fn rewrite<'a>(
        &mut self,
        cursor: Option<u64>,
        jobs: impl Iterator<Item = &'a JobRecord>,
    ) -> Result<(), JournalError> {
        let mut text = line(&Record::Header(self.header));
        let mut lines = 1;
        if let Some(c) = cursor {
            text.extend(line(&Record::Cursor(c)));
            lines += 1;
        }
        for job in jobs {
            text.extend(line(&Record::Job(Box::new(job.clone()))));
            lines += 1;
        }
        text.extend(std::mem::take(&mut self.pending).iter());
        let tmp = self.path.with_extension("jsonl.tmp");
        let write = || -> std::io::Result<File> {
            let mut f = File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent() {
                File::open(dir)?.sync_all()?;
            }
            OpenOptions::new().append(true).open(&self.path)
        };
        self.file = write().map_err(|e| io("rewriting", &self.path, e))?;
        self.lines = lines;
        Ok(())
    }

    fn push(&mut self, record: &Record) {
        self.pending.extend(line(record));
        self.lines += 1;
    }
}

fn line(record: &Record) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(record).expect("journal records are plain data");
    bytes.push(b'\n');
    bytes
}

fn parse(path: &Path, bytes: &[u8], header: Header) -> Result<Loaded, JournalError> {
    let mut loaded = Loaded::default();
    let mut order = Vec::new();
    let mut jobs: HashMap<B256, JobRecord> = HashMap::new();
    let mut rest = bytes;
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        let (text, after, whole) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..], true),
            None => (rest, &rest[rest.len()..], false),
        };
        rest = after;
        let record: Record = match serde_json::from_slice(text) {
            Ok(r) if whole => r,
            // A torn last line: the crash came mid-write, before anything depended on it.
            _ if rest.is_empty() => break,
            Ok(_) => unreachable!("only the last line can lack its newline"),
            Err(e) => {
                return Err(JournalError::Corrupt {
                    path: path.into(),
                    line: number,
                    reason: e.to_string(),
                });
            }
        };
        match record {
            Record::Header(found) if found != header => {
                return Err(JournalError::Other {
                    path: path.into(),
                    found_chain: found.chain,
                    found_agency: found.agency,
                    found_agent: found.agent,
                    chain: header.chain,
                    agency: header.agency,
                    agent: header.agent,
                });
            }
            Record::Header(_) => {}
            Record::Cursor(c) => loaded.cursor = Some(c),
            Record::Job(job) => {
                if !jobs.contains_key(&job.id) {
                    order.push(job.id);
                }
                jobs.insert(job.id, *job);
            }
        }
    }
    loaded.jobs = order
        .into_iter()
        .filter_map(|id| jobs.remove(&id))
        .filter(|j| !j.state.is_done())
        .collect();
    Ok(loaded)
}

/// Appends `bytes` to the journal file and waits until they are on disk.
fn append_synced(file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)?;
    file.sync_data()
}

fn io(op: &'static str, path: &Path, source: std::io::Error) -> JournalError {
    JournalError::Io {
        op,
        path: path.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Phase;

    fn header() -> Header {
        Header {
            chain: 31337,
            agency: Address::repeat_byte(1),
            agent: Address::repeat_byte(2),
        }
    }

    fn job(n: u8, phase: Phase) -> JobRecord {
        JobRecord {
            id: B256::repeat_byte(n),
            terms: Terms::default(),
            index: 0,
            spec: B256::repeat_byte(9),
            state: JobState {
                phase,
                result: Some(B256::repeat_byte(n + 1)),
                salt: Some(B256::repeat_byte(n + 2)),
                claims: 1,
                delivered: false,
            },
        }
    }

    #[test]
    fn latest_state_wins_done_jobs_are_dropped_and_the_file_is_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, loaded) = Journal::open(dir.path(), header()).unwrap();
        assert!(loaded.jobs.is_empty() && loaded.cursor.is_none());
        j.job(&job(1, Phase::Claiming));
        j.job(&job(2, Phase::Working));
        j.cursor(7);
        j.job(&job(1, Phase::Working));
        j.job(&job(2, Phase::Done(crate::machine::End::Lost)));
        j.sync().unwrap();
        drop(j);
        let (j, loaded) = Journal::open(dir.path(), header()).unwrap();
        assert_eq!(loaded.cursor, Some(7));
        assert_eq!(loaded.jobs, vec![job(1, Phase::Working)]);
        assert_eq!(j.lines(), 3, "header, cursor, one live job");
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_bad_middle_line_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = Journal::open(dir.path(), header()).unwrap();
        j.job(&job(1, Phase::Working));
        j.sync().unwrap();
        drop(j);
        let path = dir.path().join(FILE);
        let good = std::fs::read(&path).unwrap();
        let mut torn = good.clone();
        torn.extend_from_slice(br#"{"job":{"id":"0x02"#);
        std::fs::write(&path, &torn).unwrap();
        let (_, loaded) = Journal::open(dir.path(), header()).unwrap();
        assert_eq!(loaded.jobs, vec![job(1, Phase::Working)]);

        let mut bad = b"{\"nonsense\":1}\n".to_vec();
        bad.extend_from_slice(&good);
        std::fs::write(&path, &bad).unwrap();
        let err = Journal::open(dir.path(), header()).unwrap_err();
        assert!(
            matches!(err, JournalError::Corrupt { line: 1, .. }),
            "{err}"
        );
    }

    /// A journal from before the terms were the contract's own type: `deadline` is a number.
    #[test]
    fn a_journal_written_with_the_old_terms_record_opens() {
        let dir = tempfile::tempdir().unwrap();
        let old = concat!(
            r#"{"header":{"chain":31337,"agency":"0x0101010101010101010101010101010101010101","#,
            r#""agent":"0x0202020202020202020202020202020202020202"}}"#,
            "\n",
            r#"{"cursor":12}"#,
            "\n",
            r#"{"job":{"id":"0x0303030303030303030303030303030303030303030303030303030303030303","#,
            r#""terms":{"requester":"0x0404040404040404040404040404040404040404","salt":9,"#,
            r#""count":1,"specs":"0x0505050505050505050505050505050505050505050505050505050505050505","#,
            r#""reward":3000000000000000,"collateral":1000000000000000,"replicas":3,"quorum":2,"#,
            r#""minReputation":0,"deliveryWindow":120,"revealWindow":60,"deadline":1767229200},"#,
            r#""index":0,"spec":"0x0909090909090909090909090909090909090909090909090909090909090909","#,
            r#""state":{"phase":{"phase":"working"},"result":"0x0606060606060606060606060606060606060606060606060606060606060606","#,
            r#""salt":"0x0707070707070707070707070707070707070707070707070707070707070707","claims":1,"#,
            r#""delivered":true}}}"#,
            "\n",
        );
        std::fs::write(dir.path().join(FILE), old).unwrap();
        let (_, loaded) = Journal::open(dir.path(), header()).unwrap();
        assert_eq!(loaded.cursor, Some(12));
        let [job] = loaded.jobs.as_slice() else {
            panic!("{:?}", loaded.jobs)
        };
        let t = &job.terms;
        assert_eq!(t.deadline.to::<u64>(), 1_767_229_200);
        assert_eq!((t.replicas, t.quorum, t.salt, t.count), (3, 2, 9, 1));
        assert_eq!(
            (t.reward, t.collateral),
            (3_000_000_000_000_000, 1_000_000_000_000_000)
        );
        assert_eq!((t.deliveryWindow, t.revealWindow), (120, 60));
        assert_eq!(job.state.phase, Phase::Working);
        assert!(job.state.delivered);
        // Opening rewrote it in today's form, which reads back the same.
        let (_, again) = Journal::open(dir.path(), header()).unwrap();
        assert_eq!(again.jobs, loaded.jobs);
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(text.contains(r#""deadline":"0x"#), "{text}");
    }

    #[test]
    fn another_agents_journal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Journal::open(dir.path(), header()).unwrap());
        let other = Header {
            agent: Address::repeat_byte(3),
            ..header()
        };
        let err = Journal::open(dir.path(), other).unwrap_err();
        assert!(err.to_string().contains("use another data dir"), "{err}");
    }
}
