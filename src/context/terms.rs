//! Terms for relevance ranking: identifiers split on camelCase, snake_case, kebab-case and digit
//! boundaries, lower-cased and stemmed (Snowball English), so `parseHttpHeaders`,
//! `parse_http_header` and "parse the HTTP header" meet on the same terms.

use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Words that say nothing about which file a change touches (English filler and the keywords
/// every source file repeats).
const STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "into",
    "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "we", "when", "with",
    "not", "no", "if", "else", "fn", "let", "mut", "pub", "use", "self", "def", "return", "var",
    "const", "function", "import", "true", "false", "none", "null", "some", "ok", "err", "impl",
    "struct", "enum", "mod", "crate", "super", "where", "match", "class", "new", "str", "string",
    "int", "bool", "void", "u8", "u32", "u64", "i32", "i64", "usize", "try", "also", "now", "so",
    "but", "can", "do", "don", "than", "then", "there", "which", "will", "all", "more", "make",
    "add", "fix", "remove", "update", "ci", "pr", "merge", "branch",
];

fn is_stop(word: &str) -> bool {
    STOP.contains(&word)
}

/// Appends the terms of `text` to `out`. A compound identifier gives its parts and the whole
/// (lower-cased), so an exact identifier match scores above a match of its parts.
pub fn terms_into(text: &str, out: &mut Vec<String>) {
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() || word.len() > 64 {
            continue;
        }
        let parts = split_identifier(word);
        if parts.len() > 1 {
            let whole = word.to_lowercase();
            if !is_stop(&whole) {
                out.push(whole);
            }
        }
        for part in parts {
            push_term(&part, out);
        }
    }
}

pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    terms_into(text, &mut out);
    out
}

fn push_term(part: &str, out: &mut Vec<String>) {
    if part.len() < 2 || part.chars().all(|c| c.is_ascii_digit()) {
        return;
    }
    let lower = part.to_lowercase();
    if is_stop(&lower) {
        return;
    }
    out.push(STEMMER.stem(&lower).into_owned());
}

/// `parseHTTPHeaders2x` → parse, HTTP, Headers, 2x; `snake_case` never reaches here whole
/// because `_` is not alphanumeric.
pub fn split_identifier(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..chars.len() {
        let (prev, cur) = (chars[i - 1], chars[i]);
        let next_lower = chars.get(i + 1).is_some_and(|c| c.is_lowercase());
        let boundary = (prev.is_lowercase() && cur.is_uppercase())
            || (prev.is_uppercase() && cur.is_uppercase() && next_lower)
            || (prev.is_alphabetic() && cur.is_ascii_digit())
            || (prev.is_ascii_digit() && cur.is_alphabetic());
        if boundary {
            parts.push(chars[start..i].iter().collect());
            start = i;
        }
    }
    parts.push(chars[start..].iter().collect());
    parts
}

/// Terms of a path: directory and file names (extension dropped), split like identifiers.
pub fn path_terms(path: &str) -> Vec<String> {
    let without_ext = match path.rfind('.') {
        Some(dot) if dot > path.rfind('/').map_or(0, |s| s + 1) => &path[..dot],
        _ => path,
    };
    terms(without_ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_split_on_case_and_underscores() {
        assert_eq!(
            split_identifier("parseHTTPHeaders2x"),
            ["parse", "HTTP", "Headers", "2", "x"]
        );
        let t = terms("fn parse_http_headers(req: HttpRequest)");
        for want in ["pars", "http", "header", "req", "request", "httprequest"] {
            assert!(t.contains(&want.to_string()), "{want} in {t:?}");
        }
        assert!(!t.contains(&"fn".to_string()));
    }

    #[test]
    fn prose_and_code_meet_on_stems() {
        let prose = terms("Parsing the headers of requests");
        let code = terms("parse_header(request)");
        for term in &code {
            if term != "parse_header" {
                assert!(prose.contains(term), "{term} missing from {prose:?}");
            }
        }
    }

    #[test]
    fn paths_drop_the_extension() {
        assert_eq!(
            path_terms("src/store/file_access.rs"),
            ["src", "store", "file", "access"]
        );
        assert_eq!(path_terms(".github/workflows"), ["github", "workflow"]);
    }
}
