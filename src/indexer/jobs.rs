//! Placeholder, filled in by the job-queue step.
