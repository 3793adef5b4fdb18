//! Import links between files, read from import lines without a parser: Rust `use`/`mod`,
//! Python `import`/`from … import`, JavaScript/TypeScript `import … from '…'`/`require('…')`
//! and Go import paths. A reference resolves to a file by its module path (path without the
//! extension; `mod.rs`, `__init__.py`, `index.*` stand for their directory), relative to the
//! importing file where the language says so, else by the longest unambiguous path suffix.

use std::collections::HashMap;

/// Module key of a path: `src/a/b.rs` → `src/a/b`; `src/a/mod.rs` → `src/a`.
fn module_key(path: &str) -> String {
    let stem = match path.rfind('.') {
        Some(dot) if dot > path.rfind('/').map_or(0, |s| s + 1) => &path[..dot],
        _ => path,
    };
    for dir_file in ["/mod", "/__init__", "/index", "/lib"] {
        if let Some(dir) = stem.strip_suffix(dir_file) {
            return dir.to_string();
        }
    }
    stem.to_string()
}

fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

fn join(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Finds files by module key or key suffix.
struct Resolver {
    exact: HashMap<String, usize>,
    suffix: HashMap<String, Vec<usize>>,
}

impl Resolver {
    fn new(paths: &[&str]) -> Self {
        let mut exact = HashMap::new();
        let mut suffix: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in paths.iter().enumerate() {
            let key = module_key(p);
            let segs: Vec<&str> = key.split('/').collect();
            for start in 0..segs.len() {
                suffix.entry(segs[start..].join("/")).or_default().push(i);
            }
            exact.insert(key, i);
        }
        Self { exact, suffix }
    }

    fn exact(&self, key: &str) -> Option<usize> {
        self.exact.get(key).copied()
    }

    /// The longest prefix of `segs` (at least `min` segments) that names exactly one file.
    fn by_suffix(&self, segs: &[&str], min: usize) -> Option<usize> {
        (min.max(1)..=segs.len()).rev().find_map(|n| {
            match self.suffix.get(&segs[..n].join("/")).map(Vec::as_slice) {
                Some([one]) => Some(*one),
                _ => None,
            }
        })
    }
}

/// For each file, the files it imports (indices into `files`, without itself, deduplicated).
pub fn import_links(files: &[(&str, &str)]) -> Vec<Vec<usize>> {
    let paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
    let resolver = Resolver::new(&paths);
    files
        .iter()
        .enumerate()
        .map(|(i, (path, content))| {
            let mut out: Vec<usize> = references(path, content, &resolver);
            out.retain(|&j| j != i);
            out.sort_unstable();
            out.dedup();
            out
        })
        .collect()
}

fn references(path: &str, content: &str, r: &Resolver) -> Vec<usize> {
    let ext = path.rsplit('.').next().unwrap_or("");
    let mut out = Vec::new();
    let dir = parent(path);
    for line in content.lines().take(400) {
        let line = line.trim();
        match ext {
            "rs" => rust_line(path, dir, line, r, &mut out),
            "py" => python_line(dir, line, r, &mut out),
            "js" | "jsx" | "ts" | "tsx" | "mjs" | "cjs" | "vue" | "svelte" => {
                if let Some(spec) = js_specifier(line)
                    && spec.starts_with('.')
                {
                    out.extend(join(dir, spec).and_then(|k| r.exact(&module_key(&k))));
                }
            }
            "go" => {
                if let Some(spec) = quoted(line) {
                    let segs: Vec<&str> = spec.split('/').rev().collect();
                    let segs: Vec<&str> = segs.into_iter().rev().collect();
                    if segs.len() >= 2 {
                        let tail = &segs[segs.len() - 2..];
                        out.extend(r.by_suffix(tail, 2));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn rust_line(path: &str, dir: &str, line: &str, r: &Resolver, out: &mut Vec<usize>) {
    let line = line.strip_prefix("pub ").unwrap_or(line);
    let line = line.strip_prefix("pub(crate) ").unwrap_or(line);
    // The module this file is: children live under it, `super` is its parent.
    let stem = module_key(path);
    let is_dir_module = ["mod.rs", "lib.rs", "main.rs"]
        .iter()
        .any(|f| path.ends_with(&format!("/{f}")) || path == *f);
    let module_dir = if is_dir_module {
        dir.to_string()
    } else {
        stem.clone()
    };
    if let Some(rest) = line.strip_prefix("mod ") {
        let name = rest.trim_end_matches(';').trim();
        if rest.ends_with(';') && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            out.extend(r.exact(format!("{module_dir}/{name}").trim_start_matches('/')));
        }
        return;
    }
    let Some(rest) = line.strip_prefix("use ") else {
        return;
    };
    let spec = rest.split(['{', ';', ' ']).next().unwrap_or("");
    let segs: Vec<&str> = spec.split("::").filter(|s| !s.is_empty()).collect();
    let Some((&first, tail)) = segs.split_first() else {
        return;
    };
    let base = match first {
        "crate" => crate_root(path).to_string(),
        "super" => parent(&module_dir).to_string(),
        "self" => module_dir,
        "std" | "core" | "alloc" => return,
        _ => {
            // Another crate of the workspace, or a dependency: match on the path suffix.
            out.extend(r.by_suffix(tail, 2));
            return;
        }
    };
    for n in (0..=tail.len()).rev() {
        let key = format!("{base}/{}", tail[..n].join("/"));
        if let Some(i) = r.exact(key.trim_matches('/')) {
            out.push(i);
            return;
        }
    }
}

/// `x/src/a/b.rs` → `x/src`.
fn crate_root(path: &str) -> &str {
    match path.rfind("src/") {
        Some(i) => &path[..i + 3],
        None => parent(path),
    }
}

fn python_line(dir: &str, line: &str, r: &Resolver, out: &mut Vec<usize>) {
    let (module, names) = if let Some(rest) = line.strip_prefix("from ") {
        let mut it = rest.splitn(2, " import ");
        (it.next().unwrap_or("").trim(), it.next().unwrap_or(""))
    } else if let Some(rest) = line.strip_prefix("import ") {
        (rest.split([' ', ',']).next().unwrap_or(""), "")
    } else {
        return;
    };
    let dots = module.chars().take_while(|c| *c == '.').count();
    let dotted = &module[dots..];
    let mut segs: Vec<&str> = dotted.split('.').filter(|s| !s.is_empty()).collect();
    let first_name = names
        .trim_start_matches('(')
        .split([',', ' ', ')'])
        .next()
        .unwrap_or("")
        .trim();
    if dots > 0 {
        let mut base = dir.to_string();
        for _ in 1..dots {
            base = parent(&base).to_string();
        }
        for candidate in [
            segs.iter().chain([&first_name]).collect::<Vec<_>>(),
            segs.iter().collect(),
        ] {
            let key: Vec<&str> = std::iter::once(base.as_str())
                .chain(candidate.into_iter().copied())
                .filter(|s| !s.is_empty())
                .collect();
            if let Some(i) = r.exact(&key.join("/")) {
                out.push(i);
                return;
            }
        }
        return;
    }
    if !first_name.is_empty() {
        segs.push(first_name);
    }
    // Longest unambiguous suffix of the dotted path, trying the imported name first.
    for n in (1..=segs.len()).rev() {
        let key = segs[..n].join("/");
        if let Some(list) = r.suffix.get(&key)
            && list.len() == 1
        {
            out.push(list[0]);
            return;
        }
    }
}

fn js_specifier(line: &str) -> Option<&str> {
    if line.starts_with("import ") || line.starts_with("export ") {
        if let Some(i) = line.rfind(" from ") {
            return quoted(&line[i..]);
        }
        return line.strip_prefix("import ").and_then(quoted);
    }
    let i = line.find("require(").or_else(|| line.find("import("))?;
    quoted(&line[i..])
}

fn quoted(s: &str) -> Option<&str> {
    let start = s.find(['\'', '"', '`'])?;
    let q = s[start..].chars().next()?;
    let rest = &s[start + 1..];
    let end = rest.find(q)?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(files: &[(&str, &str)]) -> Vec<Vec<&'static str>> {
        let names: Vec<&'static str> = files
            .iter()
            .map(|(p, _)| &*Box::leak(p.to_string().into_boxed_str()))
            .collect();
        import_links(files)
            .into_iter()
            .map(|l| l.into_iter().map(|i| names[i]).collect())
            .collect()
    }

    #[test]
    fn rust_mod_and_use() {
        let got = links(&[
            ("src/lib.rs", "pub mod store;\nmod api;\n"),
            (
                "src/store/mod.rs",
                "mod ingest;\nuse crate::api::error::Error;\n",
            ),
            (
                "src/store/ingest.rs",
                "use super::{Error, Store};\nuse std::fmt;\n",
            ),
            ("src/api/mod.rs", ""),
            ("src/api/error.rs", "use crate::store;\n"),
        ]);
        assert_eq!(got[0], ["src/store/mod.rs", "src/api/mod.rs"]);
        assert_eq!(got[1], ["src/store/ingest.rs", "src/api/error.rs"]);
        assert_eq!(got[2], ["src/store/mod.rs"]);
        assert_eq!(got[4], ["src/store/mod.rs"]);
    }

    #[test]
    fn python_and_javascript() {
        let got = links(&[
            (
                "src/flask/app.py",
                "from .helpers import get_root_path\nfrom . import json\nimport os\n",
            ),
            (
                "src/flask/helpers.py",
                "from flask.globals import request\n",
            ),
            ("src/flask/globals.py", ""),
            ("src/flask/json/__init__.py", ""),
            (
                "web/main.ts",
                "import { a } from './lib/util';\nconst x = require('../y');",
            ),
            ("web/lib/util.ts", ""),
        ]);
        assert_eq!(
            got[0],
            ["src/flask/helpers.py", "src/flask/json/__init__.py"]
        );
        assert_eq!(got[1], ["src/flask/globals.py"]);
        assert_eq!(got[4], ["web/lib/util.ts"]);
    }
}
