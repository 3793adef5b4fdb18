//! Placeholder, filled in by the CLI step.
