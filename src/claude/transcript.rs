//! Claude Code session transcripts (`~/.claude/projects/<project>/<session>.jsonl`) into a
//! [`ParsedRun`]. Transcript lines have the stream-json shapes (`assistant` lines repeating one
//! `message.id` per content block, `user` lines with `tool_result` blocks, `system` lines) plus
//! an ISO `timestamp`, `sessionId`, `cwd` and `version` on each line, so they go through the same
//! [`StreamParser`] with the line's timestamp as its time. Transcript-only lines (`summary`,
//! `queue-operation`, `file-history-snapshot`, `progress`, local commands) are counted as skipped.
//! There is no `result` line: session totals are the per-message sums, and output tokens are
//! whatever the transcript recorded (the final figure in the CLIs seen so far).
//!
//! Timing: a turn's request time is the previous line's timestamp (the prompt or tool result);
//! its first token is its first `assistant` line, written when the first content block was
//! complete, so TTFT from a transcript is an upper bound.

use std::io::BufRead;

use super::model::ParsedRun;
use super::stream::StreamParser;

/// Parses a transcript from any reader, line by line (memory stays bounded by the run).
pub fn parse_reader(reader: impl BufRead) -> std::io::Result<ParsedRun> {
    let mut parser = StreamParser::for_transcript();
    for line in reader.split(b'\n') {
        parser.push_line(&String::from_utf8_lossy(&line?), None);
    }
    Ok(parser.finish())
}

/// Parses a whole transcript text.
pub fn parse_str(text: &str) -> ParsedRun {
    let mut parser = StreamParser::for_transcript();
    for line in text.lines() {
        parser.push_line(line, None);
    }
    parser.finish()
}
