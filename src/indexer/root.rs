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
    #[error("root {0:?} cannot be opened as a file tree: {1}")]
    Unreadable(String, String),
    #[error("root {0:?} is refused: {1}")]
    Refused(String, String),
    #[error("root {0:?} is not under the allowed target roots ({1}); see --target-roots")]
    NotAllowed(String, String),
    #[error("root {registered:?} now resolves to {now:?}; register it again")]
    Moved { registered: String, now: String },
}

/// Trees that are never a target, nor anything under them: secrets, kernel and device state.
const REFUSED_TREES: &[&str] = &["/etc", "/proc", "/sys", "/dev", "/boot", "/run"];
/// Directories refused as roots themselves (a tree below them, e.g. /home/me/repo or
/// /root/src/repo, is fine: the walk skips hidden entries such as .ssh by default).
const REFUSED_EXACT: &[&str] = &[
    "/", "/root", "/usr", "/var", "/home", "/tmp", "/opt", "/srv", "/mnt", "/media", "/bin",
    "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/snap",
];

/// Checks a path a client asks to register and returns its canonical form (no base directories
/// configured: anything not refused).
pub fn validate_root(raw: &str) -> Result<PathBuf, RootError> {
    validate_root_within(raw, &[])
}

/// [`validate_root`], and when `allowed` is not empty the root must be one of those directories
/// or under one (`--target-roots`). System trees and pseudo filesystems are always refused.
pub fn validate_root_within(raw: &str, allowed: &[PathBuf]) -> Result<PathBuf, RootError> {
    let canonical = shape(raw)?;
    let shown = canonical.display().to_string();
    if REFUSED_EXACT.iter().any(|r| canonical == Path::new(r))
        || REFUSED_TREES.iter().any(|r| canonical.starts_with(r))
        || canonical
            .components()
            .any(|c| SECRET_DIRS.iter().any(|d| c.as_os_str() == *d))
    {
        return Err(RootError::Refused(
            raw.into(),
            format!("{shown} is a system directory"),
        ));
    }
    // Opened as the walk opens it: refuses pseudo filesystems (procfs, sysfs, ...).
    if let Err(e) = super::Root::open(&canonical) {
        return Err(RootError::Refused(raw.into(), e.to_string()));
    }
    if !allowed.is_empty() {
        let bases: Vec<PathBuf> = allowed
            .iter()
            .map(|b| b.canonicalize().unwrap_or_else(|_| b.clone()))
            .collect();
        if !bases.iter().any(|b| canonical.starts_with(b)) {
            let list: Vec<String> = allowed.iter().map(|b| b.display().to_string()).collect();
            return Err(RootError::NotAllowed(raw.into(), list.join(",")));
        }
    }
    Ok(canonical)
}

/// Hidden home directories that hold credentials: refused as a root or anywhere on its path.
const SECRET_DIRS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".kube",
    ".docker",
    ".password-store",
];

/// Absolute, no `..`, existing, a directory: its canonical form.
fn shape(raw: &str) -> Result<PathBuf, RootError> {
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
    let now = shape(&shown)?;
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

    #[test]
    fn refuses_system_trees_pseudo_filesystems_and_outside_bases() {
        for raw in [
            "/", "/etc", "/etc/ssl", "/root", "/proc", "/sys", "/dev", "/usr", "/var",
        ] {
            assert!(
                matches!(validate_root(raw), Err(RootError::Refused(..))),
                "{raw} must be refused"
            );
        }
        let base = tempfile::tempdir().unwrap();
        let inside = base.path().join("repo");
        std::fs::create_dir(&inside).unwrap();
        let secrets = base.path().join(".ssh");
        std::fs::create_dir(&secrets).unwrap();
        assert!(matches!(
            validate_root(secrets.to_str().unwrap()),
            Err(RootError::Refused(..))
        ));
        let other = tempfile::tempdir().unwrap();
        let allowed = [base.path().to_path_buf()];
        assert!(validate_root_within(inside.to_str().unwrap(), &allowed).is_ok());
        assert!(matches!(
            validate_root_within(other.path().to_str().unwrap(), &allowed),
            Err(RootError::NotAllowed(..))
        ));
    }
}
