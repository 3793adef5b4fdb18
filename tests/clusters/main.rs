//! Tests on private PostgreSQL clusters (initdb and pg_ctl in a temporary directory, never the
//! shared server on 5432) that they stop, restart or leave to the real binary: outages with and
//! without the spool, the binary under SIGKILL and SIGTERM (`outage`), and the zero-configuration
//! default database (`default_database`). Kept apart from `tests/it/` because they need the
//! PostgreSQL server binaries, run for minutes (each outage lasts `ACD_OUTAGE_SECONDS`, default
//! 60) and assert on grace periods, which a quieter neighbourhood keeps honest.

#[path = "../common/mod.rs"]
mod common;

mod default_database;
mod outage;
