//! Background jobs that `serve` runs beside its listeners, one file per job. Each one only
//! schedules and logs; the SQL it runs lives in the store.

pub mod idle_sessions;
pub mod index_worker;
pub mod retention;
