//! The wrapped process: spawns it with stdout piped (stdin and stderr inherited), passes its
//! stdout through byte for byte, flushed per line, stamps each line with our own clock as it is
//! read, forwards termination signals to it, and waits for its exit. Knows nothing about
//! stream-json: each line goes to a callback.

use std::ffi::OsString;
use std::process::{ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Signals passed on to the child. SIGINT is Ctrl-C, SIGTERM a service manager or `kill`, SIGHUP
/// a closed terminal; all three would otherwise end the wrapper before the child and lose the run.
pub const FORWARDED_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// How long the pipe may stay open after the child exited (a grandchild can hold it) before we
/// stop reading and record what we have.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(3);

/// The child's pid while it runs, 0 otherwise; read by the signal handler.
static CHILD_PID: AtomicI32 = AtomicI32::new(0);
/// Bit `n` set: signal `n` arrived while the child ran.
static SIGNALS_SEEN: AtomicU64 = AtomicU64::new(0);
/// Signals that arrived while the child was being started (no pid yet): sent once it has one.
static SIGNALS_PENDING: AtomicU64 = AtomicU64::new(0);
/// True from set-up until the child's pid is known.
static STARTING: AtomicBool = AtomicBool::new(false);
/// Bit `n` set: signal `n` was sent on to the child by us.
static SIGNALS_FORWARDED: AtomicU64 = AtomicU64::new(0);

/// How the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    fn from_status(status: ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            // Neither is impossible on Unix; treat it as a generic failure.
            (None, None) => Exit::Code(1),
        }
    }

    /// The wrapper's own exit code: the child's, or 128 + signal as a shell reports it.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(code) => code,
            Exit::Signal(signal) => 128 + signal,
        }
    }
}

/// What happened to the child, besides its lines.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// Spawn → exit on the monotonic clock.
    pub wall_clock_ms: i64,
    pub exit: Exit,
    /// Signals that arrived at the wrapper while the child ran, and those we passed on (a
    /// terminal's Ctrl-C reaches the child directly, so it is not sent twice).
    pub signals_received: Vec<i32>,
    pub signals_forwarded: Vec<i32>,
    pub lines: u64,
    pub bytes: u64,
    /// The output ended without a final newline (the child stopped mid-line).
    pub ended_mid_line: bool,
    /// Stdout stayed open after the child exited and reading was cut off.
    pub drain_timed_out: bool,
    /// Our own stdout failed (e.g. the reader went away); the run was still read and recorded.
    pub passthrough_error: Option<String>,
}

/// The command could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {program:?}: {source}")]
pub struct SpawnError {
    pub program: String,
    pub source: std::io::Error,
}

/// Installs the forwarding handlers once per process. Must run before the child is spawned, so
/// that a signal arriving right after the spawn is forwarded rather than ending the wrapper.
fn install_signal_forwarding() -> std::io::Result<()> {
    // The error is kept to answer every later caller too (io::Error is not Clone).
    static INSTALLED: OnceLock<Result<(), std::sync::Arc<std::io::Error>>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        for signal in FORWARDED_SIGNALS {
            // SAFETY: the action is async-signal-safe: it only uses atomics and kill(2).
            unsafe {
                signal_hook_registry::register_sigaction(signal, move |info| {
                    on_signal(signal, info)
                })
            }
            .map_err(std::sync::Arc::new)?;
        }
        Ok(())
    });
    installed
        .clone()
        .map_err(|e| std::io::Error::new(e.kind(), e.to_string()))
}

/// Runs inside the signal handler: nothing that allocates or locks.
fn on_signal(signal: i32, info: &libc::siginfo_t) {
    let pid = CHILD_PID.load(Ordering::SeqCst);
    let bit = 1u64 << signal;
    if pid <= 0 {
        // A harness may cancel right after starting us: keep the signal for the child.
        if STARTING.load(Ordering::SeqCst) {
            SIGNALS_SEEN.fetch_or(bit, Ordering::SeqCst);
            SIGNALS_PENDING.fetch_or(bit, Ordering::SeqCst);
        }
        return;
    }
    SIGNALS_SEEN.fetch_or(bit, Ordering::SeqCst);
    if !sent_by_terminal(info) {
        // SAFETY: kill(2) is async-signal-safe; `pid` is our unreaped child.
        unsafe { libc::kill(pid, signal) };
        SIGNALS_FORWARDED.fetch_or(bit, Ordering::SeqCst);
    }
}

/// A terminal's Ctrl-C (or hang-up) is sent by the kernel to the whole foreground process
/// group, which includes the child: forwarding it too would deliver it twice, and a second
/// Ctrl-C means "force quit" to many programs.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn sent_by_terminal(info: &libc::siginfo_t) -> bool {
    info.si_code == libc::SI_KERNEL
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sent_by_terminal(_info: &libc::siginfo_t) -> bool {
    false
}

fn signal_list(bits: u64) -> Vec<i32> {
    (1..64).filter(|s| bits & (1u64 << s) != 0).collect()
}

/// Runs `command` to completion. `on_line` gets every line (without its newline, invalid UTF-8
/// replaced) and the time it was read; a final line without newline is passed too.
pub async fn run_child(
    command: &[OsString],
    mut on_line: impl FnMut(&str, DateTime<Utc>),
) -> Result<Outcome, SpawnError> {
    let program = command.first().cloned().unwrap_or_default();
    let spawn_error = |source| SpawnError {
        program: program.to_string_lossy().into_owned(),
        source,
    };
    SIGNALS_SEEN.store(0, Ordering::SeqCst);
    SIGNALS_FORWARDED.store(0, Ordering::SeqCst);
    SIGNALS_PENDING.store(0, Ordering::SeqCst);
    STARTING.store(true, Ordering::SeqCst);
    install_signal_forwarding().map_err(spawn_error)?;

    let started_at = Utc::now();
    let clock = Instant::now();
    let mut child = Command::new(&program)
        .args(&command[1..])
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(spawn_error)?;
    if let Some(pid) = child.id() {
        CHILD_PID.store(pid as i32, Ordering::SeqCst);
        STARTING.store(false, Ordering::SeqCst);
        // Signals from before the child existed. (A terminal's Ctrl-C in that window is sent
        // too: the child may have been forked after the kernel signalled the process group.)
        let pending = SIGNALS_PENDING.swap(0, Ordering::SeqCst);
        for signal in signal_list(pending) {
            // SAFETY: plain kill(2) of our own, unreaped child.
            unsafe { libc::kill(pid as i32, signal) };
        }
        SIGNALS_FORWARDED.fetch_or(pending, Ordering::SeqCst);
    }
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut reader = BufReader::new(stdout);
    let mut out = tokio::io::stdout();

    let mut buf = Vec::with_capacity(64 * 1024);
    let (mut lines, mut bytes) = (0u64, 0u64);
    let mut ended_mid_line = false;
    let mut passthrough_error = None;
    let mut exit: Option<(Exit, DateTime<Utc>, i64)> = None;
    let mut eof = false;
    let mut drain_timed_out = false;
    let drain_deadline = tokio::time::sleep(Duration::from_secs(86_400));
    tokio::pin!(drain_deadline);

    while !(eof && exit.is_some()) {
        tokio::select! {
            // read_until keeps partial data in `buf` when another branch wins: cancel-safe.
            read = reader.read_until(b'\n', &mut buf), if !eof => {
                let seen_at = Utc::now();
                // A read error ends the stream like EOF: nothing more can come from the pipe;
                // bytes read before it are still passed on.
                if read.unwrap_or(0) == 0 {
                    eof = true;
                    if buf.is_empty() {
                        continue;
                    }
                }
                // At EOF read_until returns what it has: a last line without its newline.
                ended_mid_line = !buf.ends_with(b"\n");
                bytes += buf.len() as u64;
                lines += 1;
                if passthrough_error.is_none()
                    && let Err(e) = pass_through(&mut out, &buf).await
                {
                    passthrough_error = Some(e.to_string());
                }
                let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
                let body = body.strip_suffix(b"\r").unwrap_or(body);
                on_line(&String::from_utf8_lossy(body), seen_at);
                buf.clear();
            }
            status = child.wait(), if exit.is_none() => {
                let ended_at = Utc::now();
                let wall_clock_ms = clock.elapsed().as_millis() as i64;
                CHILD_PID.store(0, Ordering::SeqCst);
                // wait() fails only if the child was already reaped; report a failure then.
                let status = status.map(Exit::from_status).unwrap_or(Exit::Code(1));
                exit = Some((status, ended_at, wall_clock_ms));
                drain_deadline
                    .as_mut()
                    .reset(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
            }
            () = &mut drain_deadline, if exit.is_some() && !eof => {
                drain_timed_out = true;
                break;
            }
        }
    }
    let (exit, ended_at, wall_clock_ms) = exit.expect("the loop ends after the exit");
    Ok(Outcome {
        started_at,
        ended_at,
        wall_clock_ms,
        exit,
        signals_received: signal_list(SIGNALS_SEEN.load(Ordering::SeqCst)),
        signals_forwarded: signal_list(SIGNALS_FORWARDED.load(Ordering::SeqCst)),
        lines,
        bytes,
        ended_mid_line,
        drain_timed_out,
        passthrough_error,
    })
}

async fn pass_through(out: &mut tokio::io::Stdout, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(bytes).await?;
    out.flush().await
}

/// A short name for a signal number, for the record.
pub fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGQUIT => "SIGQUIT".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGPIPE => "SIGPIPE".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        other => format!("signal {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn exit_code_is_the_childs_or_128_plus_the_signal() {
        // Raw wait statuses: exit code in the high byte, terminating signal in the low bits.
        assert_eq!(Exit::from_status(ExitStatus::from_raw(3 << 8)).code(), 3);
        assert_eq!(Exit::from_status(ExitStatus::from_raw(0)).code(), 0);
        let killed = Exit::from_status(ExitStatus::from_raw(libc::SIGKILL));
        assert_eq!(killed, Exit::Signal(libc::SIGKILL));
        assert_eq!(killed.code(), 137);
    }

    #[test]
    fn signal_bits_list_the_signals() {
        let bits = (1u64 << libc::SIGINT) | (1u64 << libc::SIGTERM);
        assert_eq!(signal_list(bits), vec![libc::SIGINT, libc::SIGTERM]);
        assert_eq!(signal_name(libc::SIGINT), "SIGINT");
    }
}
