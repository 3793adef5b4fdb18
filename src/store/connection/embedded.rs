//! A private PostgreSQL cluster for the zero-configuration default: initdb and pg_ctl from the
//! installed PostgreSQL (on PATH or under /usr/lib/postgresql/*/bin), a data directory of our own,
//! a Unix socket in that directory and no TCP port. initdb and postgres refuse to run as root, so
//! as root they run as the unprivileged `postgres` user through runuser.

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use super::Error;

/// The socket file's path must fit in `sockaddr_un.sun_path` (108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;
const SERVICE_USER: &str = "postgres";
/// Fixed, so that PGPORT in the environment (read by both postgres and sqlx) cannot move the
/// socket away from the name checked against [`MAX_SOCKET_PATH`].
const PORT: u16 = 5432;

pub struct EmbeddedCluster {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<&'static str>,
    /// True until the server is (possibly) running under our control: a failed start-up before
    /// that point has nothing to stop, and must not log a spurious pg_ctl error.
    stopped: bool,
}

impl EmbeddedCluster {
    pub async fn start(data_dir: &Path) -> Result<(Self, PgConnectOptions), Error> {
        let data_dir = data_dir.to_path_buf();
        tokio::task::spawn_blocking(move || Self::start_blocking(&data_dir))
            .await
            .map_err(|e| Error::Setup(format!("starting PostgreSQL panicked: {e}")))?
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn start_blocking(data_dir: &Path) -> Result<(Self, PgConnectOptions), Error> {
        let bin_dir = find_bin_dir().ok_or_else(|| {
            Error::Setup(
                "no PostgreSQL server is reachable and no PostgreSQL binaries (initdb, pg_ctl) were \
                 found on PATH or under /usr/lib/postgresql/*/bin: install PostgreSQL 15+ \
                 (e.g. `apt-get install postgresql`) or set DATABASE_URL"
                    .into(),
            )
        })?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let run_as = (unsafe { libc::geteuid() } == 0).then_some(SERVICE_USER);
        std::fs::create_dir_all(data_dir).map_err(|e| setup_io("create", data_dir, e))?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(|e| setup_io("resolve", data_dir, e))?;
        let socket = data_dir.join(format!(".s.PGSQL.{PORT}"));
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(Error::Setup(format!(
                "--data-dir {} is too long for a Unix socket path; choose a shorter one",
                data_dir.display()
            )));
        }
        let mut cluster = Self {
            data_dir,
            bin_dir,
            run_as,
            stopped: true,
        };
        cluster.prepare_ownership()?;
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.run(
                "initdb",
                &[
                    "-D",
                    &cluster.dir(),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                ],
            )?;
        }
        let running = cluster.is_running();
        // From here on the server is ours to stop, also when pg_ctl start times out or fails
        // half-way (Drop stops it).
        cluster.stopped = false;
        if !running {
            let options = format!(
                "-c listen_addresses='' -p {PORT} -k '{}'",
                cluster.dir().replace('\'', "'\\''")
            );
            let log = cluster.data_dir.join("postgres.log");
            let started = cluster.run(
                "pg_ctl",
                &[
                    "-D",
                    &cluster.dir(),
                    "-l",
                    &log.to_string_lossy(),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    &options,
                    "start",
                ],
            );
            if let Err(Error::Setup(message)) = started {
                return Err(Error::Setup(format!(
                    "{message}; server log {}: {}",
                    log.display(),
                    log_tail(&log)
                )));
            }
            started?;
        }
        // PgConnectOptions::new reads PGHOST, PGPORT, PGSSLMODE...; none of them applies here.
        let options = PgConnectOptions::new()
            .socket(&cluster.data_dir)
            .port(PORT)
            .ssl_mode(PgSslMode::Disable)
            .username("postgres")
            .database("postgres");
        Ok((cluster, options))
    }

    fn dir(&self) -> String {
        self.data_dir.to_string_lossy().into_owned()
    }

    /// As root, hands the data directory to the service user, and checks that it can reach it
    /// (a directory under /root, for one, it cannot).
    fn prepare_ownership(&self) -> Result<(), Error> {
        let Some(user) = self.run_as else {
            return Ok(());
        };
        let status = Command::new("chown")
            .args([&format!("{user}:"), &self.dir()])
            .status()
            .map_err(|e| Error::Setup(format!("cannot run chown: {e}")))?;
        let reachable = status.success()
            && Command::new("runuser")
                .args(["-u", user, "--", "test", "-w", &self.dir()])
                .status()
                .is_ok_and(|s| s.success());
        if !reachable {
            return Err(Error::Setup(format!(
                "running as root, the private PostgreSQL runs as user {user:?}, which cannot write \
                 {}: choose a --data-dir it can reach (e.g. /var/tmp/acd-pg) or set DATABASE_URL",
                self.data_dir.display()
            )));
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        match self.run_as {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(path);
                cmd
            }
            None => Command::new(path),
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), Error> {
        let output = self
            .command(program)
            .args(args)
            .current_dir(&self.data_dir)
            .output()
            .map_err(|e| Error::Setup(format!("cannot run {program}: {e}")))?;
        if output.status.success() {
            return Ok(());
        }
        // initdb and pg_ctl write several lines; the error must stay on one. stdout (initdb's
        // progress report) only when stderr says nothing.
        let mut detail = one_line(&String::from_utf8_lossy(&output.stderr));
        if detail.is_empty() {
            detail = one_line(&String::from_utf8_lossy(&output.stdout));
        }
        Err(Error::Setup(format!(
            "{program} failed ({}): {detail}",
            output.status
        )))
    }

    fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .args(["-D", &self.dir(), "status"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Fast shutdown: open sessions are disconnected, the data is consistent on disk.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if !self.is_running() {
            // A start that failed before the server came up leaves nothing to stop.
            return;
        }
        match self.run("pg_ctl", &["-D", &self.dir(), "-m", "fast", "-w", "stop"]) {
            Ok(()) => tracing::info!("stopped the private PostgreSQL cluster"),
            Err(e) => tracing::warn!("stopping the private PostgreSQL cluster: {e}"),
        }
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// The lines of `text`, trimmed, without the empty ones, joined by "; ".
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The last few lines of the server log, on one line: why postgres did not start.
fn log_tail(log: &Path) -> String {
    match std::fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            one_line(&lines[lines.len().saturating_sub(3)..].join("\n"))
        }
        Err(e) => format!("unreadable ({e})"),
    }
}

fn setup_io(action: &str, path: &Path, err: std::io::Error) -> Error {
    Error::Setup(format!(
        "cannot {action} data directory {}: {err}",
        path.display()
    ))
}

/// The directory holding initdb, pg_ctl and postgres: from PATH (following symlinks, since
/// pg_ctl looks for postgres next to its real location), else the newest /usr/lib/postgresql.
fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_tools(&dir)
                && let Ok(real) = dir.join("pg_ctl").canonicalize()
            {
                return real.parent().map(Path::to_path_buf);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}
