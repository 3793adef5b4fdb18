//! The one opener for a target's files. Every read of a file under a registered root (the index
//! walk, the context planner) goes through [`Root`]: the root is opened once as a directory
//! descriptor with no symlink anywhere on its path (a canonical root has none, so one found means
//! the root was swapped), and each file is opened relative to that descriptor with `openat2`
//! (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`), or, where the kernel has no
//! `openat2` (ENOSYS), by a per-component `O_NOFOLLOW` walk from the root descriptor. Files are
//! opened `O_NONBLOCK` (a FIFO swapped in cannot block the open) and checked on the descriptor:
//! only regular files are read, and never more than a cap (a sparse 50 GiB file is skipped by its
//! size, a file growing while read stops at the cap).
//!
//! Paths are stored escaped so that names which are not UTF-8 survive: see [`encode_path`].

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Default cap on the bytes read from one file (index and planner).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The cap on the bytes read from one file: `ACD_MAX_FILE_BYTES` when set to a positive number,
/// else [`DEFAULT_MAX_FILE_BYTES`]; read once.
pub fn max_file_bytes() -> u64 {
    static CAP: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *CAP.get_or_init(|| {
        std::env::var("ACD_MAX_FILE_BYTES")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|v| *v > 0)
            .unwrap_or(DEFAULT_MAX_FILE_BYTES)
    })
}

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    /// A FIFO, socket, device or directory found where a file was listed.
    NotRegular,
    /// Larger than the cap (its size, or the cap + 1 when it grew while read).
    TooLarge(u64),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

impl ReadError {
    /// True when the path crossed a symlink or left the root (ELOOP from O_NOFOLLOW or
    /// RESOLVE_NO_SYMLINKS, EXDEV from RESOLVE_BENEATH).
    pub fn is_outside(&self) -> bool {
        matches!(self, ReadError::Io(e) if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::EXDEV)))
    }
}

/// Set once openat2 answered ENOSYS: the fallback walk is used from then on.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// An open registered root.
pub struct Root {
    fd: OwnedFd,
}

impl Root {
    /// Opens a canonical root, refusing a symlink on any component and pseudo filesystems.
    pub fn open(root: &Path) -> io::Result<Root> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        let fd = open_beneath(
            libc::AT_FDCWD,
            root.as_os_str().as_bytes(),
            flags,
            !NO_OPENAT2.load(Ordering::Relaxed),
        )?;
        if let Some(name) = pseudo_fs(fd.as_raw_fd()) {
            return Err(io::Error::other(format!("{name} is not a file tree")));
        }
        Ok(Root { fd })
    }

    /// Opens `rel` (a path relative to the root, as raw bytes) for reading: never outside the
    /// root, never through a symlink, never blocking; only a regular file.
    pub fn open_file(&self, rel: &[u8]) -> Result<(File, u64), ReadError> {
        let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY;
        let fd = open_beneath(
            self.fd.as_raw_fd(),
            rel,
            flags,
            !NO_OPENAT2.load(Ordering::Relaxed),
        )?;
        let file = File::from(fd);
        let meta = file.metadata()?;
        if !meta.file_type().is_file() {
            return Err(ReadError::NotRegular);
        }
        Ok((file, meta.len()))
    }

    /// Reads `rel` whole if it is at most `cap` bytes.
    pub fn read(&self, rel: &[u8], cap: u64) -> Result<Vec<u8>, ReadError> {
        let (file, size) = self.open_file(rel)?;
        if size > cap {
            return Err(ReadError::TooLarge(size));
        }
        // Allocate by what was read, not by the stated size, and stop one byte past the cap.
        let mut content = Vec::with_capacity(size.min(64 * 1024) as usize);
        file.take(cap + 1).read_to_end(&mut content)?;
        if content.len() as u64 > cap {
            return Err(ReadError::TooLarge(cap + 1));
        }
        Ok(content)
    }
}

/// Opens `path` under `dir` (or an absolute path from "/" when `dir` is AT_FDCWD) with no symlink
/// followed and no escape: openat2 when `use_openat2`, else component by component.
fn open_beneath(dir: RawFd, path: &[u8], flags: i32, use_openat2: bool) -> io::Result<OwnedFd> {
    if use_openat2 {
        let c = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: open_how is plain data; zeroed is its documented default.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (flags | libc::O_NOFOLLOW) as u64;
        how.resolve = libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
        if dir != libc::AT_FDCWD {
            how.resolve |= libc::RESOLVE_BENEATH;
        }
        // SAFETY: valid NUL-terminated path, a live open_how and its size, as openat2(2) asks.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir,
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if r >= 0 {
            // SAFETY: the kernel returned a new descriptor we own.
            return Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) });
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ENOSYS) {
            return Err(err);
        }
        NO_OPENAT2.store(true, Ordering::Relaxed);
    }
    walk_no_follow(dir, path, flags)
}

/// The fallback: each directory component opened O_NOFOLLOW|O_DIRECTORY from the one before,
/// `..` refused, the last opened O_NOFOLLOW with `flags`.
fn walk_no_follow(dir: RawFd, path: &[u8], flags: i32) -> io::Result<OwnedFd> {
    let open = |at: RawFd, name: &[u8], flags: i32| -> io::Result<OwnedFd> {
        let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: valid descriptor (or AT_FDCWD) and NUL-terminated name.
        let r = unsafe { libc::openat(at, c.as_ptr(), flags | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor we own.
        Ok(unsafe { OwnedFd::from_raw_fd(r) })
    };
    let absolute = path.first() == Some(&b'/');
    if absolute != (dir == libc::AT_FDCWD) {
        return Err(io::Error::from_raw_os_error(libc::EXDEV));
    }
    let parts: Vec<&[u8]> = path
        .split(|b| *b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .collect();
    if parts.iter().any(|p| *p == b"..") {
        return Err(io::Error::from_raw_os_error(libc::EXDEV));
    }
    let dir_flags = libc::O_RDONLY | libc::O_DIRECTORY;
    let mut current: Option<OwnedFd> = None;
    let start = if absolute {
        Some(open(libc::AT_FDCWD, b"/", dir_flags)?)
    } else {
        None
    };
    let base = |cur: &Option<OwnedFd>| cur.as_ref().map_or(dir, |f| f.as_raw_fd());
    if let Some(s) = start {
        current = Some(s);
    }
    let Some((last, dirs)) = parts.split_last() else {
        return open(base(&current), b".", flags);
    };
    for part in dirs {
        current = Some(open(base(&current), part, dir_flags)?);
    }
    open(base(&current), last, flags)
}

/// The name of the pseudo filesystem `fd` is on, if it is one (statfs f_type).
fn pseudo_fs(fd: RawFd) -> Option<&'static str> {
    const PSEUDO: &[(i64, &str)] = &[
        (0x9fa0, "procfs"),
        (0x6265_6572, "sysfs"),
        (0x1cd1, "devpts"),
        (0x6462_6720, "debugfs"),
        (0x7472_6163, "tracefs"),
        (0x0027_e0eb, "cgroupfs"),
        (0x6367_7270, "cgroup2fs"),
        (0x7363_6673, "securityfs"),
        (0xcafe_4a11, "bpffs"),
        (0x6165_676c, "pstore"),
        (0x6265_6570, "configfs"),
        (0xde5e_81e4, "efivarfs"),
        (0x4249_4e4d, "binfmt_misc"),
    ];
    // SAFETY: statfs is plain data filled by the kernel.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a live descriptor and a valid buffer.
    if unsafe { libc::fstatfs(fd, &mut st) } != 0 {
        return None;
    }
    let kind = st.f_type as i64;
    PSEUDO.iter().find(|(m, _)| *m == kind).map(|(_, n)| *n)
}

/// A relative path as stored: UTF-8 as is, except `\` written `\\` and each byte that is not
/// part of valid UTF-8 written `\xHH`; so two names that differ only in invalid bytes stay two.
pub fn encode_path(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if ch == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(ch);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The bytes of a stored path ([`encode_path`]'s inverse); a malformed escape is kept literally.
pub fn decode_path(stored: &str) -> Vec<u8> {
    let s = stored.as_bytes();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && s.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if s[i] == b'\\' && s.get(i + 1) == Some(&b'x') && i + 4 <= s.len() {
            match std::str::from_utf8(&s[i + 2..i + 4])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 4;
                }
                None => {
                    out.push(s[i]);
                    i += 1;
                }
            }
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn opens(root: &Path, rel: &str, openat2: bool) -> io::Result<OwnedFd> {
        let dir = open_beneath(
            libc::AT_FDCWD,
            root.as_os_str().as_bytes(),
            libc::O_RDONLY | libc::O_DIRECTORY,
            openat2,
        )?;
        open_beneath(dir.as_raw_fd(), rel.as_bytes(), libc::O_RDONLY, openat2)
    }

    #[test]
    fn both_openers_refuse_symlinks_and_escapes() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/ok.txt"), "x").unwrap();
        symlink(outside.path(), root.join("swapped")).unwrap();
        for openat2 in [true, false] {
            assert!(opens(&root, "sub/ok.txt", openat2).is_ok());
            assert!(opens(&root, "swapped/secret", openat2).is_err());
            assert!(opens(&root, "../x", openat2).is_err());
            assert!(opens(&root, "/etc/passwd", openat2).is_err());
            let link = root.join("swapped");
            assert!(
                opens(&link, "secret", openat2).is_err(),
                "a root that is a symlink"
            );
        }
    }

    #[test]
    fn reads_are_capped_and_regular_only() {
        let dir = tempfile::tempdir().unwrap();
        let root_path = dir.path().canonicalize().unwrap();
        std::fs::write(root_path.join("small"), "12345").unwrap();
        let big = File::create(root_path.join("sparse")).unwrap();
        big.set_len(50 << 30).unwrap();
        let root = Root::open(&root_path).unwrap();
        assert_eq!(root.read(b"small", 5).unwrap(), b"12345");
        assert!(matches!(
            root.read(b"small", 4),
            Err(ReadError::TooLarge(5))
        ));
        assert!(matches!(
            root.read(b"sparse", DEFAULT_MAX_FILE_BYTES),
            Err(ReadError::TooLarge(_))
        ));
        let fifo = CString::new(root_path.join("fifo").as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(matches!(root.read(b"fifo", 10), Err(ReadError::NotRegular)));
        assert!(Root::open(Path::new("/proc")).is_err());
    }

    #[test]
    fn paths_round_trip_losslessly() {
        for raw in [
            &b"a/b.rs"[..],
            b"caf\xc3\xa9",
            b"x\xff",
            b"x\xfe",
            b"back\\slash\\x41",
        ] {
            let stored = encode_path(raw);
            assert_eq!(decode_path(&stored), raw, "{stored}");
        }
        assert_ne!(encode_path(b"x\xff"), encode_path(b"x\xfe"));
        assert_eq!(encode_path(b"x\xff"), "x\\xff");
    }
}
