-- One definition of "add these tool calls to file_access_log", shared by the three statements
-- that count accesses (a call counted at insert, all calls of a session when its target becomes
-- known, orphan calls attached later): increments, avg_tokens from the codebase index, rows
-- locked in (target, path) order so that two batches adding to the same paths cannot deadlock.
-- Returns the number of paths added to.
CREATE FUNCTION acd_add_file_accesses(targets UUID[], paths TEXT[], times TIMESTAMPTZ[])
RETURNS INTEGER LANGUAGE sql AS $$
    WITH added AS (
        INSERT INTO file_access_log (id, target_id, file_path, access_count, last_accessed_at,
                                     avg_tokens)
        SELECT gen_random_uuid(), n.target_id, n.path, count(*)::int, max(n.at),
               (SELECT LEAST(f.tokens, 2147483647)::int FROM codebase_files f
                WHERE f.target_id = n.target_id AND f.path = n.path)
        FROM UNNEST(targets, paths, times) AS n(target_id, path, at)
        GROUP BY n.target_id, n.path
        ORDER BY n.target_id, n.path
        ON CONFLICT (target_id, file_path) DO UPDATE SET
            access_count = file_access_log.access_count + EXCLUDED.access_count,
            avg_tokens = COALESCE(EXCLUDED.avg_tokens, file_access_log.avg_tokens),
            last_accessed_at = GREATEST(file_access_log.last_accessed_at,
                                        EXCLUDED.last_accessed_at)
        RETURNING 1)
    SELECT count(*)::int FROM added
$$;
