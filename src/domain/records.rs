//! A batch's records one by one: naming a record, taking some records of a batch as a batch of
//! their own, and mapping what the store reports about that part back to the whole. Used when a
//! batch the database refused is stored in parts (`store::isolation`).

use super::{IngestReport, SpanBatch, SpanKey};

/// One span record of a [`SpanBatch`]: which vector, and where in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordRef {
    Session(usize),
    Turn(usize),
    Tool(usize),
    Retry(usize),
    TestRun(usize),
}

impl SpanBatch {
    /// Every span record, sessions first.
    pub fn record_refs(&self) -> Vec<RecordRef> {
        (0..self.sessions.len())
            .map(RecordRef::Session)
            .chain((0..self.turns.len()).map(RecordRef::Turn))
            .chain((0..self.tools.len()).map(RecordRef::Tool))
            .chain((0..self.retries.len()).map(RecordRef::Retry))
            .chain((0..self.test_runs.len()).map(RecordRef::TestRun))
            .collect()
    }

    /// A batch of these records only, in the order given. Session targets go with every part:
    /// applying one is idempotent, and a part without its session's target would lose it.
    pub fn subset(&self, records: &[RecordRef]) -> SpanBatch {
        let mut part = SpanBatch {
            session_targets: self.session_targets.clone(),
            channel: self.channel.clone(),
            ..SpanBatch::default()
        };
        for record in records {
            match *record {
                RecordRef::Session(i) => part.sessions.push(self.sessions[i].clone()),
                RecordRef::Turn(i) => part.turns.push(self.turns[i].clone()),
                RecordRef::Tool(i) => part.tools.push(self.tools[i].clone()),
                RecordRef::Retry(i) => part.retries.push(self.retries[i].clone()),
                RecordRef::TestRun(i) => part.test_runs.push(self.test_runs[i].clone()),
            }
            let key = self.key_of(*record);
            if let Some(producer) = self.producers.get(key) {
                part.producers.insert(key.clone(), producer.clone());
            }
        }
        part
    }

    /// A short name for messages: the kind and the span identity (hex trace/span ids).
    pub fn describe(&self, record: RecordRef) -> String {
        let kind = match record {
            RecordRef::Session(_) => "session",
            RecordRef::Turn(_) => "turn",
            RecordRef::Tool(_) => "tool call",
            RecordRef::Retry(_) => "retry",
            RecordRef::TestRun(_) => "test run",
        };
        format!("{kind} {}", self.key_of(record).hex())
    }

    /// The span identity of a record.
    pub fn key_of(&self, record: RecordRef) -> &SpanKey {
        match record {
            RecordRef::Session(i) => &self.sessions[i].key,
            RecordRef::Turn(i) => &self.turns[i].key,
            RecordRef::Tool(i) => &self.tools[i].key,
            RecordRef::Retry(i) => &self.retries[i].key,
            RecordRef::TestRun(i) => &self.test_runs[i].key,
        }
    }

    /// Everything the record holds, for a person reading the spool's `failed/` directory.
    pub fn detail(&self, record: RecordRef) -> String {
        match record {
            RecordRef::Session(i) => format!("{:?}", self.sessions[i]),
            RecordRef::Turn(i) => format!("{:?}", self.turns[i]),
            RecordRef::Tool(i) => format!("{:?}", self.tools[i]),
            RecordRef::Retry(i) => format!("{:?}", self.retries[i]),
            RecordRef::TestRun(i) => format!("{:?}", self.test_runs[i]),
        }
    }
}

impl SpanKey {
    /// `trace/span` in lower-case hex, as OTLP/JSON writes ids.
    pub fn hex(&self) -> String {
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        format!("{}/{}", hex(&self.trace_id), hex(&self.span_id))
    }
}

impl IngestReport {
    /// Adds the report of a part written on its own: `records` is what the part was made of
    /// ([`SpanBatch::subset`]), so its indices map back to the whole batch.
    pub fn absorb(&mut self, part: IngestReport, records: &[RecordRef]) {
        let (mut sessions, mut turns, mut tools, mut retries, mut runs) =
            (vec![], vec![], vec![], vec![], vec![]);
        for record in records {
            match *record {
                RecordRef::Session(i) => sessions.push(i),
                RecordRef::Turn(i) => turns.push(i),
                RecordRef::Tool(i) => tools.push(i),
                RecordRef::Retry(i) => retries.push(i),
                RecordRef::TestRun(i) => runs.push(i),
            }
        }
        self.new_sessions
            .extend(part.new_sessions.iter().map(|&i| sessions[i]));
        self.new_turns
            .extend(part.new_turns.iter().map(|&i| turns[i]));
        self.new_tools
            .extend(part.new_tools.iter().map(|&i| tools[i]));
        self.new_retries
            .extend(part.new_retries.iter().map(|&i| retries[i]));
        self.new_test_runs
            .extend(part.new_test_runs.iter().map(|&i| runs[i]));
        self.test_run_targets.extend(part.test_run_targets);
        self.test_targets.extend(part.test_targets);
        self.duplicates += part.duplicates;
        self.sessions_hit_max_retries += part.sessions_hit_max_retries;
        // Session ids and (model, cost) pairs: no index to map back.
        self.completed_turn_sessions
            .extend(part.completed_turn_sessions);
        self.completed_cost.extend(part.completed_cost);
        self.moved_tool_sessions.extend(part.moved_tool_sessions);
        let whole = |record: RecordRef| match record {
            RecordRef::Session(i) => RecordRef::Session(sessions[i]),
            RecordRef::Turn(i) => RecordRef::Turn(turns[i]),
            RecordRef::Tool(i) => RecordRef::Tool(tools[i]),
            RecordRef::Retry(i) => RecordRef::Retry(retries[i]),
            RecordRef::TestRun(i) => RecordRef::TestRun(runs[i]),
        };
        self.conflicts
            .extend(part.conflicts.into_iter().map(|c| super::Conflict {
                record: whole(c.record),
                reason: c.reason,
            }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_report_maps_back_to_the_whole_batch() {
        let records = [
            RecordRef::Turn(3),
            RecordRef::Session(1),
            RecordRef::Turn(7),
        ];
        let part = IngestReport {
            new_sessions: vec![0],
            new_turns: vec![1],
            duplicates: 1,
            ..IngestReport::default()
        };
        let mut whole = IngestReport::default();
        whole.absorb(part, &records);
        assert_eq!(whole.new_sessions, vec![1]);
        assert_eq!(whole.new_turns, vec![7]);
        assert_eq!(whole.duplicates, 1);
    }
}
