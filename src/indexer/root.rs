//! The only paths an index reads: a registered root must be absolute, free of `..`, existing and
//! a directory; it is stored canonical (symlinks resolved), and checked again before each run so
//! that a root swapped for a symlink to somewhere else is refused. The walk itself never follows
//! symlinks, so nothing outside the root is read.

use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RootError {
    #[error("path must be absolute, got {0:?}")]
    NotAbsolute(String),
    #[error("path must not contain '..', got {0:?}")]
    ParentComponent(String),
    #[error("path {0:?} does not exist or cannot be read")]
    Missing(String),
    #[error("path {0:?} is not a directory")]
    NotADirectory(String),
    #[error("root {registered:?} now resolves to {now:?}; register it again")]
    Moved { registered: String, now: String },
}

/// Checks a path a client asks to register and returns its canonical form.
pub fn validate_root(raw: &str) -> Result<PathBuf, RootError> {
    let path = Path::new(raw);
    if raw.is_empty() || !path.is_absolute() {
        return Err(RootError::NotAbsolute(raw.into()));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(RootError::ParentComponent(raw.into()));
    }
    let canonical = path
        .canonicalize()
        .map_err(|_| RootError::Missing(raw.into()))?;
    if !canonical.is_dir() {
        return Err(RootError::NotADirectory(raw.into()));
    }
    Ok(canonical)
}

/// Checks a registered (canonical) root again just before it is walked.
pub fn revalidate(root: &Path) -> Result<PathBuf, RootError> {
    let shown = root.display().to_string();
    let now = validate_root(&shown)?;
    if now != root {
        return Err(RootError::Moved {
            registered: shown,
            now: now.display().to_string(),
        });
    }
    Ok(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_relative_parent_missing_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let file = root.join("f.txt");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(
            validate_root("relative/dir"),
            Err(RootError::NotAbsolute(_))
        ));
        let up = format!("{}/../x", root.display());
        assert!(matches!(
            validate_root(&up),
            Err(RootError::ParentComponent(_))
        ));
        let missing = format!("{}/nope", root.display());
        assert!(matches!(
            validate_root(&missing),
            Err(RootError::Missing(_))
        ));
        assert!(matches!(
            validate_root(file.to_str().unwrap()),
            Err(RootError::NotADirectory(_))
        ));
        assert_eq!(validate_root(root.to_str().unwrap()), Ok(root.clone()));
    }
}
