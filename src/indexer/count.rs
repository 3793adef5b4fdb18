//! Counting one file's content: binary detection, lines (total and code/comment/blank where the
//! language is known), characters and the token estimate.
//!
//! Binary detection looks at the content, as git and ripgrep do: a NUL byte in the first
//! [`BINARY_PROBE`] bytes makes a file binary, whatever its extension.
//!
//! The token figure is an *estimate*: ceil(characters / 4) per file (the PRD's "~4 chars per
//! token"; on source code a real BPE count is usually 5–15% lower). Characters are Unicode
//! scalar values for UTF-8 text; bytes that are not valid UTF-8 count one each.

use super::languages::Language;

/// How many leading bytes are probed for NUL (git uses 8000).
pub const BINARY_PROBE: usize = 8000;

/// What counting one text file found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub lines: u64,
    pub code: u64,
    pub comments: u64,
    pub blanks: u64,
    pub chars: u64,
    pub tokens: u64,
}

pub fn is_binary(content: &[u8]) -> bool {
    memchr::memchr(0, &content[..content.len().min(BINARY_PROBE)]).is_some()
}

/// The PRD's estimate: ~4 characters per token, rounded up per file.
pub fn estimate_tokens(chars: u64) -> u64 {
    chars.div_ceil(4)
}

/// Characters: every byte that does not continue a UTF-8 sequence starts one.
fn count_chars(content: &[u8]) -> u64 {
    content.iter().filter(|&&b| (b & 0xC0) != 0x80).count() as u64
}

/// Counts a text file. A last line without a trailing newline is still a line; an empty file
/// has none. `\r\n` counts as one line break.
pub fn count(content: &[u8], language: Option<&Language>) -> Counts {
    let chars = count_chars(content);
    let mut counts = Counts {
        chars,
        tokens: estimate_tokens(chars),
        ..Counts::default()
    };
    let syntax = language.map(Syntax::new);
    let mut depth = 0usize;
    for line in content.split_inclusive(|&b| b == b'\n') {
        counts.lines += 1;
        let line = line.trim_ascii();
        let kind = match &syntax {
            _ if line.is_empty() && depth == 0 => Kind::Blank,
            None => Kind::Code,
            Some(syntax) => syntax.classify(line, &mut depth),
        };
        match kind {
            Kind::Blank => counts.blanks += 1,
            Kind::Comment => counts.comments += 1,
            Kind::Code => counts.code += 1,
        }
    }
    counts
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Blank,
    Comment,
    Code,
}

/// A language's syntax with a table of the bytes that can start a comment marker or a string,
/// so that a line is scanned with one table lookup per byte and markers are compared only
/// where such a byte is.
struct Syntax<'a> {
    lang: &'a Language,
    special: [bool; 256],
}

impl<'a> Syntax<'a> {
    fn new(lang: &'a Language) -> Self {
        let mut special = [false; 256];
        let firsts = lang.line_comments.iter().map(|c| c.as_bytes()[0]);
        let blocks = lang
            .block_comments
            .iter()
            .map(|(open, _)| open.as_bytes()[0]);
        for b in firsts.chain(blocks).chain(lang.quotes.iter().copied()) {
            special[usize::from(b)] = true;
        }
        Self { lang, special }
    }

    /// Classifies one trimmed line, carrying the open block-comment depth across lines. A line
    /// with any code on it is code; one with only comment text (or inside a block comment) is a
    /// comment.
    fn classify(&self, line: &[u8], depth: &mut usize) -> Kind {
        let lang = self.lang;
        let (mut code, mut comment) = (false, *depth > 0);
        let mut i = 0;
        while i < line.len() {
            if *depth > 0 {
                // Inside a block comment: jump to its end (or a nested start).
                let (open, close) = lang.block_comments[0];
                let (open, close) = (open.as_bytes(), close.as_bytes());
                let next = if lang.nested {
                    memchr::memchr2(open[0], close[0], &line[i..])
                } else {
                    memchr::memchr(close[0], &line[i..])
                };
                let Some(at) = next else { break };
                i += at;
                if lang.nested && line[i..].starts_with(open) {
                    *depth += 1;
                    i += open.len();
                } else if line[i..].starts_with(close) {
                    *depth -= 1;
                    i += close.len();
                } else {
                    i += 1;
                }
                continue;
            }
            // Outside comments: anything before the next special byte that is not blank is code.
            let next = line[i..]
                .iter()
                .position(|&b| self.special[usize::from(b)])
                .map_or(line.len(), |at| i + at);
            if !code && line[i..next].iter().any(|b| !b.is_ascii_whitespace()) {
                code = true;
            }
            i = next;
            let Some(&byte) = line.get(i) else { break };
            let rest = &line[i..];
            if lang
                .line_comments
                .iter()
                .any(|c| rest.starts_with(c.as_bytes()))
            {
                comment = true;
                break;
            }
            if let Some((open, _)) = lang
                .block_comments
                .iter()
                .find(|(open, _)| rest.starts_with(open.as_bytes()))
            {
                comment = true;
                *depth = 1;
                i += open.len();
                continue;
            }
            code = true;
            if lang.quotes.contains(&byte) {
                i += 1 + string_len(&rest[1..], byte);
            } else {
                i += 1;
            }
        }
        if code {
            Kind::Code
        } else if comment {
            Kind::Comment
        } else {
            Kind::Blank
        }
    }
}

/// Bytes up to and including the closing quote on this line (a backslash escapes).
fn string_len(rest: &[u8], quote: u8) -> usize {
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            b'\\' => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    rest.len()
}

#[cfg(test)]
mod tests {
    use super::super::languages::detect;
    use super::*;

    fn rust(src: &str) -> Counts {
        count(src.as_bytes(), detect("x.rs"))
    }

    #[test]
    fn rust_split_is_exact() {
        let src = "// header\n\nfn main() { /* inline */\n    let s = \"/* not a comment\";\n}\n/* a\n\n /* nested */ still\n*/\n";
        let c = rust(src);
        assert_eq!(
            (c.lines, c.code, c.comments, c.blanks),
            (9, 3, 5, 1),
            "{c:?}"
        );
    }

    #[test]
    fn last_line_without_newline_and_crlf() {
        let c = count(b"a\r\nb\r\n\r\nc", None);
        assert_eq!((c.lines, c.code, c.blanks), (4, 3, 1));
        assert_eq!(count(b"", None).lines, 0);
        assert_eq!(count(b"\n", None).lines, 1);
    }

    #[test]
    fn python_hash_comments_and_tokens() {
        let c = count("# c\nx = '#'\n\n".as_bytes(), detect("a.py"));
        assert_eq!((c.lines, c.code, c.comments, c.blanks), (3, 1, 1, 1));
        assert_eq!(c.chars, 13);
        assert_eq!(c.tokens, 4);
        // "é" is one character in two bytes.
        assert_eq!(count("é\n".as_bytes(), None).chars, 2);
    }

    #[test]
    fn nul_means_binary_wherever_the_extension() {
        assert!(is_binary(b"PK\x03\x04\x00\x00"));
        assert!(!is_binary("plain ü text".as_bytes()));
        let mut late = vec![b'a'; BINARY_PROBE];
        late.push(0);
        assert!(!is_binary(&late), "only the probe window is looked at");
    }
}
