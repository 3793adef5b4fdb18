//! Which language a file is in (by extension or well-known file name) and that language's comment
//! syntax, for the code/comment/blank split. Unknown text files still count lines and tokens;
//! they just get no split beyond blank/non-blank (non-blank lines count as code).

/// Comment syntax of one language.
#[derive(Debug, PartialEq, Eq)]
pub struct Language {
    pub name: &'static str,
    pub line_comments: &'static [&'static str],
    pub block_comments: &'static [(&'static str, &'static str)],
    /// Block comments nest (Rust, Swift, Kotlin, Haskell...).
    pub nested: bool,
    /// Quote characters whose strings may hide comment markers.
    pub quotes: &'static [u8],
}

const C_BLOCK: &[(&str, &str)] = &[("/*", "*/")];
const SLASHES: &[&str] = &["//"];
const HASH: &[&str] = &["#"];
const DQ: &[u8] = b"\"";
const DSQ: &[u8] = b"\"'";
const DSQB: &[u8] = b"\"'`";

macro_rules! lang {
    ($name:literal, $line:expr, $block:expr, $nested:literal, $quotes:expr) => {
        Language {
            name: $name,
            line_comments: $line,
            block_comments: $block,
            nested: $nested,
            quotes: $quotes,
        }
    };
}

static RUST: Language = lang!("Rust", SLASHES, C_BLOCK, true, DQ);
static C: Language = lang!("C", SLASHES, C_BLOCK, false, DSQ);
static CPP: Language = lang!("C++", SLASHES, C_BLOCK, false, DSQ);
static CHEADER: Language = lang!("C Header", SLASHES, C_BLOCK, false, DSQ);
static CSHARP: Language = lang!("C#", SLASHES, C_BLOCK, false, DSQ);
static GO: Language = lang!("Go", SLASHES, C_BLOCK, false, DSQB);
static JAVA: Language = lang!("Java", SLASHES, C_BLOCK, false, DSQ);
static KOTLIN: Language = lang!("Kotlin", SLASHES, C_BLOCK, true, DSQ);
static SCALA: Language = lang!("Scala", SLASHES, C_BLOCK, false, DSQ);
static SWIFT: Language = lang!("Swift", SLASHES, C_BLOCK, true, DQ);
static JAVASCRIPT: Language = lang!("JavaScript", SLASHES, C_BLOCK, false, DSQB);
static TYPESCRIPT: Language = lang!("TypeScript", SLASHES, C_BLOCK, false, DSQB);
static CSS: Language = lang!("CSS", &[], C_BLOCK, false, DSQ);
static SCSS: Language = lang!("Sass", SLASHES, C_BLOCK, false, DSQ);
static PYTHON: Language = lang!("Python", HASH, &[], false, DSQ);
static RUBY: Language = lang!("Ruby", HASH, &[("=begin", "=end")], false, DSQ);
static SHELL: Language = lang!("Shell", HASH, &[], false, DSQ);
static PERL: Language = lang!("Perl", HASH, &[], false, DSQ);
static R: Language = lang!("R", HASH, &[], false, DSQ);
static TOML: Language = lang!("TOML", HASH, &[], false, DSQ);
static YAML: Language = lang!("YAML", HASH, &[], false, DSQ);
static MAKEFILE: Language = lang!("Makefile", HASH, &[], false, &[]);
static DOCKERFILE: Language = lang!("Dockerfile", HASH, &[], false, &[]);
static CMAKE: Language = lang!("CMake", HASH, &[], false, DQ);
static SQL: Language = lang!("SQL", &["--"], C_BLOCK, false, b"'");
static LUA: Language = lang!("Lua", &["--"], &[("--[[", "]]")], false, DSQ);
static HASKELL: Language = lang!("Haskell", &["--"], &[("{-", "-}")], true, DQ);
static HTML: Language = lang!("HTML", &[], &[("<!--", "-->")], false, &[]);
static XML: Language = lang!("XML", &[], &[("<!--", "-->")], false, &[]);
static PHP: Language = lang!("PHP", &["//", "#"], C_BLOCK, false, DSQ);
static ASSEMBLY: Language = lang!("Assembly", &[";", "#"], C_BLOCK, false, DQ);
static ELIXIR: Language = lang!("Elixir", HASH, &[], false, DQ);
static ERLANG: Language = lang!("Erlang", &["%"], &[], false, DQ);
static TEX: Language = lang!("TeX", &["%"], &[], false, &[]);
static VIM: Language = lang!("Vim script", &["\""], &[], false, &[]);
static ZIG: Language = lang!("Zig", SLASHES, &[], false, DQ);
static PROTO: Language = lang!("Protocol Buffers", SLASHES, C_BLOCK, false, DQ);
static DART: Language = lang!("Dart", SLASHES, C_BLOCK, false, DSQ);
// Languages with no comment syntax worth splitting: non-blank lines count as code.
static JSON: Language = lang!("JSON", &[], &[], false, &[]);
static MARKDOWN: Language = lang!("Markdown", &[], &[], false, &[]);
static TEXT: Language = lang!("Plain Text", &[], &[], false, &[]);
static RST: Language = lang!("reStructuredText", &[], &[], false, &[]);
static SVG: Language = lang!("SVG", &[], &[("<!--", "-->")], false, &[]);

/// The language of a file from its name, or `None` when unknown.
pub fn detect(file_name: &str) -> Option<&'static Language> {
    match file_name {
        "Makefile" | "makefile" | "GNUmakefile" => return Some(&MAKEFILE),
        "Dockerfile" => return Some(&DOCKERFILE),
        "CMakeLists.txt" => return Some(&CMAKE),
        "Kconfig" => return Some(&SHELL),
        _ => {}
    }
    let ext = extension(file_name)?;
    let lang = match ext.to_ascii_lowercase().as_str() {
        "rs" => &RUST,
        "c" => &C,
        "h" => &CHEADER,
        "cc" | "cpp" | "cxx" | "c++" | "hh" | "hpp" | "hxx" | "inl" => &CPP,
        "cs" => &CSHARP,
        "go" => &GO,
        "java" => &JAVA,
        "kt" | "kts" => &KOTLIN,
        "scala" | "sc" => &SCALA,
        "swift" => &SWIFT,
        "js" | "mjs" | "cjs" | "jsx" => &JAVASCRIPT,
        "ts" | "mts" | "cts" | "tsx" => &TYPESCRIPT,
        "css" => &CSS,
        "scss" | "sass" | "less" => &SCSS,
        "py" | "pyi" => &PYTHON,
        "rb" => &RUBY,
        "sh" | "bash" | "zsh" => &SHELL,
        "pl" | "pm" => &PERL,
        "r" => &R,
        "toml" => &TOML,
        "yml" | "yaml" => &YAML,
        "mk" | "mak" => &MAKEFILE,
        "cmake" => &CMAKE,
        "sql" => &SQL,
        "lua" => &LUA,
        "hs" => &HASKELL,
        "html" | "htm" => &HTML,
        "xml" | "xsd" | "xsl" | "plist" => &XML,
        "php" => &PHP,
        "s" | "asm" => &ASSEMBLY,
        "ex" | "exs" => &ELIXIR,
        "erl" | "hrl" => &ERLANG,
        "tex" | "sty" => &TEX,
        "vim" => &VIM,
        "zig" => &ZIG,
        "proto" => &PROTO,
        "dart" => &DART,
        "json" | "jsonl" => &JSON,
        "md" | "markdown" => &MARKDOWN,
        "txt" => &TEXT,
        "rst" => &RST,
        "svg" => &SVG,
        _ => return None,
    };
    Some(lang)
}

/// The extension as the PRD's `file_types` counts it: after the last dot, not for dot-files.
pub fn extension(file_name: &str) -> Option<&str> {
    match file_name.rfind('.') {
        Some(0) | None => None,
        Some(i) if i + 1 < file_name.len() => Some(&file_name[i + 1..]),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_extension_and_name() {
        assert_eq!(detect("main.rs").map(|l| l.name), Some("Rust"));
        assert_eq!(detect("App.TSX").map(|l| l.name), Some("TypeScript"));
        assert_eq!(detect("Makefile").map(|l| l.name), Some("Makefile"));
        assert_eq!(detect("README"), None);
        assert_eq!(detect(".bashrc"), None);
        assert_eq!(extension("archive.tar.gz"), Some("gz"));
        assert_eq!(extension("trailing."), None);
    }
}
