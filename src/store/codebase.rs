//! Targets with a registered root, codebase indexes (the PRD's `codebase_indexes` plus exact
//! figures) and the per-file rows that make a re-index incremental. Only changed rows are written
//! and removed files deleted, so an unchanged re-index writes one index row and no file rows.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Error, Store};
use crate::indexer::{Counts, FileRecord, IndexRun};

#[derive(Debug, Clone)]
pub struct Target {
    pub id: Uuid,
    pub name: Option<String>,
    /// Canonical absolute path on the collector's host; the only tree a reindex reads.
    pub root_path: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_indexed_at: Option<DateTime<Utc>>,
    /// Estimated tokens (chars/4) of the latest index.
    pub index_size_tokens: Option<i32>,
    pub total_files: Option<i32>,
    pub total_loc: Option<i32>,
}

/// A new target, or another target already registered with that root.
pub enum Registered {
    Created(Target),
    Existing(Target),
    RootTaken(Uuid),
}

/// One row of `codebase_indexes`.
#[derive(Debug)]
pub struct CodebaseIndex {
    pub id: Uuid,
    pub target_id: Uuid,
    pub indexed_at: DateTime<Utc>,
    /// Text files counted (binary files are in `binary_files`).
    pub total_files: i32,
    /// PRD column (saturates at 2^31-1); `lines` is exact.
    pub total_lines: i32,
    pub lines: i64,
    pub code_lines: i64,
    pub comment_lines: i64,
    pub blank_lines: i64,
    pub total_size_bytes: i64,
    /// PRD column: estimated tokens, saturating; `tokens_estimate` is exact.
    pub index_size_tokens: i32,
    pub tokens_estimate: i64,
    /// `chars/4`: ceil(characters / 4) per file, the PRD's estimate (not a BPE count).
    pub token_method: String,
    pub build_duration_ms: Option<i32>,
    pub binary_files: i32,
    pub files_read: i32,
    pub files_reused: i32,
    /// Text files by extension, e.g. {"rs": 12, "md": 3}.
    pub file_types: Option<serde_json::Value>,
    /// Per language: files, lines, code, comments, blanks, bytes.
    pub languages: Option<serde_json::Value>,
    /// Top 10 text files by size.
    pub largest_files: Option<serde_json::Value>,
    /// Entries not counted, by kind (unreadable, vanished, escaping_symlink, ...), with examples.
    pub problems: Option<serde_json::Value>,
}

/// A target's latest index, for the "largest codebases" list.
#[derive(Debug)]
pub struct CodebaseSize {
    pub target_id: Uuid,
    pub name: Option<String>,
    pub indexed_at: DateTime<Utc>,
    pub total_files: i32,
    pub lines: i64,
    pub total_size_bytes: i64,
    pub tokens_estimate: i64,
}

fn sat_i32(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn sat_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// How many file rows one INSERT carries.
const CHUNK: usize = 5_000;

impl Store {
    /// Registers `root` (canonical) under a new target, or under `id` when given (a target that
    /// sessions already name gets its root).
    pub async fn register_target(
        &self,
        id: Option<Uuid>,
        name: Option<&str>,
        root: &str,
    ) -> Result<Registered, Error> {
        let mut tx = self.pool().begin().await?;
        let owner = sqlx::query_scalar!("SELECT id FROM targets WHERE root_path = $1", root)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(owner) = owner {
            if id.is_none_or(|id| id == owner) {
                let target = target_in(&mut tx, owner).await?;
                return Ok(Registered::Existing(target.expect("row seen above")));
            }
            return Ok(Registered::RootTaken(owner));
        }
        let id = id.unwrap_or_else(Uuid::new_v4);
        sqlx::query!(
            r#"INSERT INTO targets (id, name, root_path) VALUES ($1, $2, $3)
               ON CONFLICT (id) DO UPDATE SET root_path = EXCLUDED.root_path,
                   name = COALESCE(EXCLUDED.name, targets.name), updated_at = NOW()"#,
            id,
            name,
            root
        )
        .execute(&mut *tx)
        .await?;
        let target = target_in(&mut tx, id).await?.expect("row just written");
        tx.commit().await?;
        Ok(Registered::Created(target))
    }

    pub async fn targets(&self) -> Result<Vec<Target>, Error> {
        Ok(sqlx::query_as!(
            Target,
            r#"SELECT id, name, root_path, created_at, updated_at, last_indexed_at,
                      index_size_tokens, total_files, total_loc
               FROM targets ORDER BY created_at, id"#
        )
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn target(&self, id: Uuid) -> Result<Option<Target>, Error> {
        let mut conn = self.pool().acquire().await?;
        target_in(&mut conn, id).await
    }

    /// The latest index's rows of a target, by path.
    pub async fn previous_files(&self, target: Uuid) -> Result<HashMap<String, FileRecord>, Error> {
        let rows = sqlx::query!(
            r#"SELECT path, size_bytes, mtime_ns, content_hash, is_binary, language, lines,
                      code_lines, comment_lines, blank_lines, chars, tokens
               FROM codebase_files WHERE target_id = $1"#,
            target
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let record = FileRecord {
                    path: r.path.clone(),
                    size_bytes: r.size_bytes as u64,
                    mtime_ns: r.mtime_ns,
                    content_hash: r.content_hash,
                    is_binary: r.is_binary,
                    language: r.language,
                    counts: Counts {
                        lines: r.lines as u64,
                        code: r.code_lines as u64,
                        comments: r.comment_lines as u64,
                        blanks: r.blank_lines as u64,
                        chars: r.chars as u64,
                        tokens: r.tokens as u64,
                    },
                };
                (r.path, record)
            })
            .collect())
    }

    /// Stores one index run: the index row, changed and removed file rows, and the target's
    /// PRD columns, in one transaction. Returns the index id.
    pub async fn save_index(&self, target: Uuid, run: &IndexRun) -> Result<Uuid, Error> {
        let s = &run.summary;
        let id = Uuid::new_v4();
        let mut tx = self.pool().begin().await?;
        sqlx::query!(
            r#"INSERT INTO codebase_indexes (id, target_id, total_files, total_lines,
                   total_size_bytes, index_size_tokens, build_duration_ms, file_types,
                   largest_files, lines_total, code_lines, comment_lines, blank_lines,
                   tokens_estimate, token_method, binary_files, files_read, files_reused,
                   languages, problems)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                       $17, $18, $19, $20)"#,
            id,
            target,
            sat_i32(s.files),
            sat_i32(s.lines),
            sat_i64(s.bytes),
            sat_i32(s.tokens),
            sat_i32(s.duration_ms),
            json(&s.file_types),
            json(&s.largest_files),
            sat_i64(s.lines),
            sat_i64(s.code_lines),
            sat_i64(s.comment_lines),
            sat_i64(s.blank_lines),
            sat_i64(s.tokens),
            s.token_method,
            sat_i32(s.binary_files),
            sat_i32(s.files_read),
            sat_i32(s.files_reused),
            json(&s.languages),
            json(&s.problems),
        )
        .execute(&mut *tx)
        .await?;
        let changed: Vec<&FileRecord> = run.changed.iter().map(|&i| &run.files[i]).collect();
        for chunk in changed.chunks(CHUNK) {
            let col = |f: fn(&FileRecord) -> i64| chunk.iter().map(|r| f(r)).collect::<Vec<_>>();
            let paths: Vec<&str> = chunk.iter().map(|r| r.path.as_str()).collect();
            let languages: Vec<Option<String>> = chunk.iter().map(|r| r.language.clone()).collect();
            let binary: Vec<bool> = chunk.iter().map(|r| r.is_binary).collect();
            sqlx::query!(
                r#"INSERT INTO codebase_files (target_id, path, size_bytes, mtime_ns, content_hash,
                       is_binary, language, lines, code_lines, comment_lines, blank_lines, chars,
                       tokens)
                   SELECT $1, * FROM UNNEST($2::text[], $3::int8[], $4::int8[], $5::int8[],
                       $6::bool[], $7::text[], $8::int8[], $9::int8[], $10::int8[], $11::int8[],
                       $12::int8[], $13::int8[])
                   ON CONFLICT (target_id, path) DO UPDATE SET size_bytes = EXCLUDED.size_bytes,
                       mtime_ns = EXCLUDED.mtime_ns, content_hash = EXCLUDED.content_hash,
                       is_binary = EXCLUDED.is_binary, language = EXCLUDED.language,
                       lines = EXCLUDED.lines, code_lines = EXCLUDED.code_lines,
                       comment_lines = EXCLUDED.comment_lines,
                       blank_lines = EXCLUDED.blank_lines, chars = EXCLUDED.chars,
                       tokens = EXCLUDED.tokens"#,
                target,
                &paths as &[&str],
                &col(|r| sat_i64(r.size_bytes)),
                &col(|r| r.mtime_ns),
                &col(|r| r.content_hash),
                &binary,
                &languages as &[Option<String>],
                &col(|r| sat_i64(r.counts.lines)),
                &col(|r| sat_i64(r.counts.code)),
                &col(|r| sat_i64(r.counts.comments)),
                &col(|r| sat_i64(r.counts.blanks)),
                &col(|r| sat_i64(r.counts.chars)),
                &col(|r| sat_i64(r.counts.tokens)),
            )
            .execute(&mut *tx)
            .await?;
        }
        if !run.removed.is_empty() {
            sqlx::query!(
                "DELETE FROM codebase_files WHERE target_id = $1 AND path = ANY($2)",
                target,
                &run.removed
            )
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query!(
            r#"UPDATE targets SET last_indexed_at = NOW(), index_size_tokens = $2,
                   total_files = $3, total_loc = $4, updated_at = NOW()
               WHERE id = $1"#,
            target,
            sat_i32(s.tokens),
            sat_i32(s.files),
            sat_i32(s.lines),
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A target's indexes, newest first.
    pub async fn codebase_indexes(
        &self,
        target: Uuid,
        limit: i64,
    ) -> Result<Vec<CodebaseIndex>, Error> {
        Ok(sqlx::query_as!(
            CodebaseIndex,
            r#"SELECT id, target_id AS "target_id!", indexed_at AS "indexed_at!",
                      total_files AS "total_files!", total_lines AS "total_lines!",
                      lines_total AS lines, code_lines, comment_lines, blank_lines,
                      total_size_bytes AS "total_size_bytes!",
                      index_size_tokens AS "index_size_tokens!", tokens_estimate, token_method,
                      build_duration_ms, binary_files, files_read, files_reused, file_types,
                      languages, largest_files, problems
               FROM codebase_indexes WHERE target_id = $1
               ORDER BY indexed_at DESC, created_at DESC LIMIT $2"#,
            target,
            limit
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// The latest index of every target, largest (bytes) first.
    pub async fn largest_codebases(&self, limit: i64) -> Result<Vec<CodebaseSize>, Error> {
        Ok(sqlx::query_as!(
            CodebaseSize,
            r#"SELECT latest.target_id AS "target_id!", t.name, latest.indexed_at AS "indexed_at!",
                      latest.total_files AS "total_files!", latest.lines_total AS lines,
                      latest.total_size_bytes AS "total_size_bytes!", latest.tokens_estimate
               FROM (SELECT DISTINCT ON (target_id) * FROM codebase_indexes
                     ORDER BY target_id, indexed_at DESC, created_at DESC) latest
               JOIN targets t ON t.id = latest.target_id
               ORDER BY latest.total_size_bytes DESC, latest.target_id LIMIT $1"#,
            limit
        )
        .fetch_all(self.pool())
        .await?)
    }
}

async fn target_in(conn: &mut sqlx::PgConnection, id: Uuid) -> Result<Option<Target>, Error> {
    Ok(sqlx::query_as!(
        Target,
        r#"SELECT id, name, root_path, created_at, updated_at, last_indexed_at,
                  index_size_tokens, total_files, total_loc
           FROM targets WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}
