-- file_access_log counts tool calls by increments (0012) under paths relative to the target's
-- root (0010). Both counting statements (a tool call counted at insert, or later when its
-- session gains a target) normalise through this one function: a leading "./" and the root
-- (plus '/') are dropped, so `/repo/src/a.rs`, `./src/a.rs` and `src/a.rs` are one file.
CREATE FUNCTION acd_relative_path(path TEXT, root TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(
        CASE WHEN root IS NOT NULL AND starts_with(path, rtrim(root, '/') || '/')
             THEN substr(path, length(rtrim(root, '/')) + 2)
             ELSE path END,
        '^(\./)+', '')
$$;
