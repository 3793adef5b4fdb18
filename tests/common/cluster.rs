//! A private PostgreSQL cluster that a test may stop and restart (never the shared server on
//! 5432, which other tests use): the collector's own [`EmbeddedCluster`] in a temporary
//! directory, on a Unix socket.

use acd_collector::store::embedded::EmbeddedCluster;
use sqlx::postgres::PgConnectOptions;

pub struct Cluster {
    /// Kept for its lifetime: removed when the test ends.
    pub dir: tempfile::TempDir,
    pub options: PgConnectOptions,
    running: Option<EmbeddedCluster>,
}

impl Cluster {
    pub async fn start() -> Self {
        // Under /tmp with a short name: the socket path must stay under 108 bytes, and as root
        // the server runs as `postgres`, which must be able to enter the directory.
        let dir = tempfile::Builder::new()
            .prefix("acdpg")
            .tempdir_in("/tmp")
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let (running, options) = EmbeddedCluster::start(&dir.path().join("pg"))
            .await
            .expect("a private PostgreSQL cluster starts (initdb and pg_ctl installed)");
        Self {
            dir,
            options,
            running: Some(running),
        }
    }

    /// `pg_ctl stop -m fast`: connections are cut, the server is gone until [`Self::restart`].
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            tokio::task::spawn_blocking(move || running.stop())
                .await
                .unwrap();
        }
    }

    pub async fn restart(&mut self) {
        assert!(self.running.is_none(), "restart after stop");
        let (running, _) = EmbeddedCluster::start(&self.dir.path().join("pg"))
            .await
            .expect("the private cluster restarts");
        self.running = Some(running);
    }

    /// A `postgres://` URL for the collector binary (the socket directory as host).
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@localhost/postgres?host={}",
            self.dir.path().join("pg").canonicalize().unwrap().display()
        )
    }
}
