//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!` embeds the
//! `migrations/` directory at compile time, and cargo does not watch it otherwise (a new
//! migration file alone left a stale binary that never applied it).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
