//! `acd-collector eval-context REPO`: the context planner measured on a git history (what
//! `scripts/eval-context` runs). Progress lines on stderr, a table, then one JSON line.

use std::path::PathBuf;

use clap::Args;

use crate::Error;
use crate::context::eval::{self, EvalArgs, RANKINGS};
use crate::context::{Mix, Weights};

#[derive(Debug, Clone, Args)]
pub struct EvalContextArgs {
    /// A git repository (work tree or bare).
    pub repo: PathBuf,
    /// How many of the newest qualifying commits to replay.
    #[arg(long, default_value_t = 50)]
    pub commits: usize,
    /// Token budget of each plan (default: the PRD's layout of a 200K window, 77000).
    #[arg(long)]
    pub budget_tokens: Option<u64>,
    /// Replay the history that ends here.
    #[arg(long, default_value = "HEAD")]
    pub rev: String,
    /// A fixed mix for our ranking, `bm25,recency,frequency,links`, alternated with relevance
    /// (for tuning; default: self-calibrated per commit, as the endpoint does).
    #[arg(long, value_delimiter = ',')]
    pub weights: Option<Vec<f64>>,
}

/// `acd-collector eval-context`: progress lines on stderr, a table, then one JSON line.
pub fn run(args: &EvalContextArgs) -> Result<(), Error> {
    if args.weights.as_ref().is_some_and(|w| w.len() != 4) {
        return Err(Error::Usage(
            "--weights takes four numbers: bm25,recency,frequency,links".into(),
        ));
    }
    let result = eval::run(
        &EvalArgs {
            repo: &args.repo,
            commits: args.commits,
            budget_tokens: args.budget_tokens,
            rev: &args.rev,
            mix: match args.weights.as_deref() {
                Some(&[bm25, recency, frequency, imports]) => Some(Mix {
                    weights: Weights {
                        bm25,
                        recency,
                        frequency,
                        imports,
                    },
                    relevance_share: 0.5,
                }),
                _ => None,
            },
        },
        &mut std::io::stderr(),
    )?;
    println!(
        "{} commits, budget {} tokens, {:.1} s",
        result.commits, result.budget_tokens, result.seconds
    );
    println!(
        "{:<8} {:>7} {:>10} {:>16}",
        "ranking", "recall", "precision", "hits/100K tok"
    );
    for k in RANKINGS {
        println!(
            "{:<8} {:>7.3} {:>10.3} {:>16.2}",
            k, result.recall[k], result.precision[k], result.hits_per_100k_tokens[k]
        );
    }
    let recall: serde_json::Map<String, serde_json::Value> = RANKINGS
        .iter()
        .map(|k| {
            (
                k.to_string(),
                serde_json::json!((result.recall[k] * 1000.0).round() / 1000.0),
            )
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "repo": result.repo,
            "commits": result.commits,
            "budget_tokens": result.budget_tokens,
            "recall": recall,
        })
    );
    Ok(())
}
