//! The totals of one index run, built from its per-file rows, and the problems met on the way.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::FileRecord;
use super::languages::extension;

/// How many example paths are kept per kind of problem.
pub const MAX_EXAMPLES: usize = 5;
/// How many files `largest_files` lists.
pub const LARGEST: usize = 10;
/// Says which token figure this is: the PRD's estimate, ceil(chars / 4) per file.
pub const TOKEN_METHOD: &str = "chars/4";

/// Why an entry of the tree was not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// A file or directory that could not be read (permissions, I/O error).
    Unreadable,
    /// Listed by its directory, gone when opened (deleted mid-walk).
    Vanished,
    /// A symlink whose target is outside the root: never followed.
    EscapingSymlink,
    /// A symlink to something inside the root: not followed (counted at its own path).
    Symlink,
    /// A symlink to nothing.
    DanglingSymlink,
    /// A FIFO, socket or device.
    SpecialFile,
    /// Larger than the read cap (`ACD_MAX_FILE_BYTES`, default 4 MiB): not read, not stored.
    TooLarge,
    /// Any other error the walker reported (loops, bad ignore files).
    WalkError,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProblemEntry {
    pub count: u64,
    /// Up to five paths (relative to the root), in path order.
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Problems(pub BTreeMap<Problem, ProblemEntry>);

impl Problems {
    pub fn add(&mut self, problem: Problem, path: String) {
        let entry = self.0.entry(problem).or_default();
        entry.count += 1;
        entry.examples.push(path);
        // Keep the smallest paths so the examples do not depend on thread scheduling.
        entry.examples.sort();
        entry.examples.truncate(MAX_EXAMPLES);
    }

    pub fn merge(&mut self, other: Problems) {
        for (problem, theirs) in other.0 {
            let entry = self.0.entry(problem).or_default();
            entry.count += theirs.count;
            entry.examples.extend(theirs.examples);
            entry.examples.sort();
            entry.examples.truncate(MAX_EXAMPLES);
        }
    }

    pub fn count(&self, problem: Problem) -> u64 {
        self.0.get(&problem).map_or(0, |e| e.count)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LanguageTotals {
    pub files: u64,
    pub lines: u64,
    pub code: u64,
    pub comments: u64,
    pub blanks: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LargestFile {
    pub path: String,
    pub size_bytes: u64,
    pub lines: u64,
    pub language: Option<String>,
}

/// Totals over the text files of a tree (binary files are only counted, see `binary_files`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    /// Text files counted.
    pub files: u64,
    pub lines: u64,
    /// Code, comment and blank lines; lines of unknown languages count as code or blank.
    pub code_lines: u64,
    pub comment_lines: u64,
    pub blank_lines: u64,
    /// Bytes of the text files.
    pub bytes: u64,
    pub chars: u64,
    /// Estimated tokens: ceil(chars / 4) per file, summed (see `token_method`).
    pub tokens: u64,
    pub token_method: String,
    /// Files skipped as binary (a NUL byte in their first 8000 bytes), and their bytes.
    pub binary_files: u64,
    pub binary_bytes: u64,
    /// Text files by extension (`(none)` for none), as the PRD's `file_types`.
    pub file_types: BTreeMap<String, u64>,
    /// Text files by detected language.
    pub languages: BTreeMap<String, LanguageTotals>,
    /// The 10 largest text files, largest first.
    pub largest_files: Vec<LargestFile>,
    pub problems: Problems,
    /// Files opened this run, and files whose previous row was reused without opening them.
    pub files_read: u64,
    pub files_reused: u64,
    pub duration_ms: u64,
}

impl Summary {
    pub fn from_files(files: &[FileRecord], problems: Problems) -> Self {
        let mut s = Summary {
            token_method: TOKEN_METHOD.into(),
            problems,
            ..Summary::default()
        };
        let mut text: Vec<&FileRecord> = Vec::with_capacity(files.len());
        for f in files {
            if f.is_binary {
                s.binary_files += 1;
                s.binary_bytes += f.size_bytes;
                continue;
            }
            text.push(f);
            let c = &f.counts;
            s.files += 1;
            s.lines += c.lines;
            s.code_lines += c.code;
            s.comment_lines += c.comments;
            s.blank_lines += c.blanks;
            s.bytes += f.size_bytes;
            s.chars += c.chars;
            s.tokens += c.tokens;
            let name = f.path.rsplit('/').next().unwrap_or(&f.path);
            let ext = extension(name).map_or_else(|| "(none)".to_string(), str::to_lowercase);
            *s.file_types.entry(ext).or_default() += 1;
            let language = f.language.clone().unwrap_or_else(|| "Other".into());
            let l = s.languages.entry(language).or_default();
            l.files += 1;
            l.lines += c.lines;
            l.code += c.code;
            l.comments += c.comments;
            l.blanks += c.blanks;
            l.bytes += f.size_bytes;
        }
        text.sort_by(|a, b| b.size_bytes.cmp(&a.size_bytes).then(a.path.cmp(&b.path)));
        s.largest_files = text
            .iter()
            .take(LARGEST)
            .map(|f| LargestFile {
                path: f.path.clone(),
                size_bytes: f.size_bytes,
                lines: f.counts.lines,
                language: f.language.clone(),
            })
            .collect();
        s
    }
}
