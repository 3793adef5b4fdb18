//! Output-token reconciliation. Without `--include-partial-messages` the per-message
//! `output_tokens` on `assistant` lines is a placeholder (the `message_start` value), usually far
//! below the truth; the `result` line's `usage.output_tokens` (and `modelUsage`) is the real total.
//! When the total is larger than the per-message sum, the difference is shared evenly among the
//! turns whose figure is a placeholder (per model when `modelUsage` names every turn's model),
//! those turns are marked [`OutputSource::Reconciled`], and the run records how much was added.
//! Session output then equals the result line's; per-turn output is an estimate. Nothing is
//! added when calls are missing from the stream (input or cache sums differ from the result).

use super::model::{OutputSource, ParsedRun};

pub fn output_tokens(run: &mut ParsedRun) {
    let Some(result) = &run.result else {
        return;
    };
    let Some(usage) = result.usage else {
        return;
    };
    // Only when the turns account for every call: otherwise the gap is missing calls, not
    // placeholders, and the session takes its totals from the result line anyway.
    let turns = run.turn_totals();
    let complete = !run.incomplete()
        && turns.input == usage.input
        && turns.cache_read == usage.cache_read
        && turns.cache_write == usage.cache_write;
    if !complete {
        return;
    }
    let total = usage.output;
    // `modelUsage` also counts side calls that never appear as `assistant` lines (2.1.3xx: a
    // WebFetch's summarising call), so it names the per-model split only when it adds up to the
    // result line's `usage`, which counts the main conversation alone.
    let per_model = !result.model_usage.is_empty()
        && result.model_usage.values().map(|u| u.output).sum::<i64>() == total
        && run
            .turns
            .iter()
            .all(|t| result.model_usage.contains_key(&t.model));
    let groups: Vec<(Option<String>, i64)> = if per_model {
        result
            .model_usage
            .iter()
            .map(|(model, u)| (Some(model.clone()), u.output))
            .collect()
    } else {
        vec![(None, total)]
    };
    let mut added = 0;
    for (model, target) in groups {
        let in_group = |m: &str| model.as_deref().is_none_or(|g| g == m);
        let sum: i64 = run
            .turns
            .iter()
            .filter(|t| in_group(&t.model))
            .map(|t| t.usage.output)
            .sum();
        let candidates: Vec<usize> = (0..run.turns.len())
            .filter(|&i| {
                let t = &run.turns[i];
                in_group(&t.model) && t.output_source == OutputSource::AssistantLine
            })
            .collect();
        if target <= sum || candidates.is_empty() {
            continue;
        }
        let diff = target - sum;
        let k = candidates.len() as i64;
        for (rank, &i) in candidates.iter().enumerate() {
            // Even shares; the first `diff % k` turns take one token more.
            let share = diff / k + i64::from((rank as i64) < diff % k);
            let turn = &mut run.turns[i];
            turn.usage.output += share;
            turn.output_source = OutputSource::Reconciled;
        }
        added += diff;
    }
    if added > 0 {
        run.reconciled_output_tokens = Some(added);
    }
}
