-- Periodicity scoring, portable SQL (DuckDB and Spark SQL run it unchanged). Reads a
-- `sessions` relation (kind, src, dst, ts, bytes, proto, port) that the caller defines as a CTE
-- before this text (beacon_sessions.sql for C&C beacons, relay_sessions.sql for internal relays),
-- twice: as `sessions` (counted per pair) and as `sessions_rescan`, the same SQL under a second
-- name (the rows of the pairs that are scored); see detectors/base.py periodicity_sql. Returns
-- one row per (kind, src, dst) with its evidence and a score in [0, 1].
-- Parameters:
--   :min_conns      connections a pair needs (after collapsing retries) to be scored
--   :retry_gap_s    a connection closer than this to the previous one is a retry, not a beacon
--   :window_s       length of the whole observation window, seconds
--   :min_bin_s      the smallest time-coverage histogram bin, seconds
--   :full_count     connections at which the count part of the score saturates
--   :internal_hosts the population of possible sources (prevalence: share contacting a dst)
--   :min_score      lowest score returned
-- Besides the score: `periodicity` (the score before the prevalence penalty), `dst_first_ts`
-- (the destination's first contact by any internal source, for first-seen evidence) and
-- `population` (the internal sources over all pairs, for prevalence where egress goes through
-- a proxy and hosts with egress of their own are few).
-- Shaped for memory and time (benchmarks/results-spark.md at 100M conn rows,
-- benchmarks/results-network.md at 10M): no sort or hash table over all pairs carries the
-- VARCHAR keys. Pairs are counted by two 64-bit keys, key64(src, '') and key64(kind, dst)
-- (each engine's own hash, defined beside its connection: engines/duckdb.py, spark.py), so the
-- largest hash table (one entry per pair, millions at scale) holds integers; the scored pairs
-- get a BIGINT id, and the windows and aggregates are keyed by that id. Names come back from
-- the rows of the scored pairs only. Two addresses (or two destinations) would have to share
-- a 64-bit key to be confused: at a million distinct ones, a chance of about 3 in 10^8.
keyed AS (
    SELECT key64(src, '') AS src_key, key64(kind, dst) AS dst_key, ts FROM sessions
),
pair_counts AS (
    SELECT src_key, dst_key, COUNT(*) AS contacts, MIN(ts) AS pair_first_ts
    FROM keyed GROUP BY src_key, dst_key
),
prevalence AS (
    SELECT dst_key, COUNT(*) AS sources, MIN(pair_first_ts) AS dst_first_ts
    FROM pair_counts GROUP BY dst_key
),
population AS (
    SELECT COUNT(DISTINCT src_key) AS population FROM pair_counts
),
pairs AS (
    SELECT src_key, dst_key, ROW_NUMBER() OVER (ORDER BY src_key, dst_key) AS pair
    FROM pair_counts
    WHERE contacts >= :min_conns
),
ordered AS (
    SELECT p.pair, s.kind, s.src, s.dst, s.ts, s.bytes, s.proto, s.port,
           s.ts - LAG(s.ts) OVER (PARTITION BY p.pair ORDER BY s.ts) AS gap
    FROM sessions_rescan s
    JOIN pairs p ON p.src_key = key64(s.src, '') AND p.dst_key = key64(s.kind, s.dst)
),
kept AS (
    SELECT pair, kind, src, dst, ts, bytes, proto, port FROM ordered
    WHERE gap IS NULL OR gap >= :retry_gap_s
),
deltas AS (
    SELECT pair, kind, src, dst, ts, bytes, proto, port,
           ts - LAG(ts) OVER (PARTITION BY pair ORDER BY ts) AS delta
    FROM kept
),
stats AS (
    SELECT pair,
           MIN(kind) AS kind, MIN(src) AS src, MIN(dst) AS dst,
           COUNT(*) AS n,
           MIN(ts) AS first_ts,
           MAX(ts) AS last_ts,
           MIN(proto) AS proto_min, MAX(proto) AS proto_max,
           MIN(port) AS port_min, MAX(port) AS port_max,
           PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY delta) AS t_q1,
           PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY delta) AS t_q2,
           PERCENTILE_CONT(0.75) WITHIN GROUP (ORDER BY delta) AS t_q3,
           PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY bytes) AS b_q1,
           PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY bytes) AS b_q2,
           PERCENTILE_CONT(0.75) WITHIN GROUP (ORDER BY bytes) AS b_q3
    FROM deltas
    GROUP BY pair
    HAVING COUNT(*) >= :min_conns
),
spread AS (
    SELECT d.pair,
           PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY ABS(d.delta - s.t_q2)) AS t_mad,
           PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY ABS(d.bytes - s.b_q2)) AS b_mad,
           COUNT(DISTINCT CAST(FLOOR((d.ts - s.first_ts) / GREATEST(2.0 * s.t_q2, :min_bin_s)) AS BIGINT)) AS bins_hit
    FROM deltas d
    JOIN stats s ON s.pair = d.pair
    GROUP BY d.pair
),
parts AS (
    SELECT s.kind, s.src, s.dst, s.n, s.first_ts, s.last_ts,
           s.proto_min, s.proto_max, s.port_min, s.port_max,
           s.t_q1, s.t_q2, s.t_q3, s.b_q2, m.t_mad, m.b_mad, m.bins_hit, v.sources,
           v.dst_first_ts, u.population,
           GREATEST(2.0 * s.t_q2, :min_bin_s) AS bin_s,
           GREATEST(s.last_ts - s.first_ts, 1.0) AS span,
           CASE WHEN s.t_q3 - s.t_q1 > 0
                THEN (s.t_q1 + s.t_q3 - 2.0 * s.t_q2) / (s.t_q3 - s.t_q1) ELSE 0.0 END AS t_bowley,
           CASE WHEN s.b_q3 - s.b_q1 > 0
                THEN (s.b_q1 + s.b_q3 - 2.0 * s.b_q2) / (s.b_q3 - s.b_q1) ELSE 0.0 END AS b_bowley
    FROM stats s
    JOIN spread m ON m.pair = s.pair
    JOIN pairs p ON p.pair = s.pair
    JOIN prevalence v ON v.dst_key = p.dst_key
    CROSS JOIN population u
),
scores AS (
    SELECT parts.*,
           (1.0 - ABS(t_bowley)) / 2.0
             + (CASE WHEN t_q2 > 0 THEN GREATEST(0.0, 1.0 - t_mad / t_q2) ELSE 0.0 END) / 2.0
             AS interval_score,
           (1.0 - ABS(b_bowley)) / 2.0
             + (CASE WHEN b_q2 > 0 THEN GREATEST(0.0, 1.0 - b_mad / b_q2)
                     WHEN b_mad = 0 THEN 1.0 ELSE 0.0 END) / 2.0
             AS size_score,
           LEAST(1.0, CAST(bins_hit AS DOUBLE) / CEIL(span / bin_s)) AS coverage_score,
           LEAST(1.0, span / (0.5 * :window_s)) AS duration_score,
           LEAST(1.0, CAST(n AS DOUBLE) / :full_count) AS count_score,
           -- prevalence needs a population: below 20 possible sources it is not measured
           CASE WHEN :internal_hosts < 20 THEN 0.0
                ELSE LEAST(0.5, GREATEST(0.0, CAST(sources AS DOUBLE) / :internal_hosts - 0.05))
           END AS prevalence_penalty
    FROM parts
),
regularity AS (
    SELECT scores.*,
           0.35 * interval_score + 0.15 * size_score + 0.2 * coverage_score
            + 0.2 * duration_score + 0.1 * count_score AS periodicity
    FROM scores
),
final AS (
    SELECT regularity.*, periodicity * (1.0 - prevalence_penalty) AS score
    FROM regularity
)
SELECT kind, src, dst, n, first_ts, last_ts, proto_min, proto_max, port_min, port_max,
       t_q2 AS interval_s, t_q1, t_q3, t_mad, b_q2 AS bytes_median, b_mad, bins_hit, sources,
       t_bowley, interval_score, size_score, coverage_score, duration_score, count_score,
       prevalence_penalty, periodicity, dst_first_ts, population, score
FROM final
WHERE score >= :min_score
ORDER BY score DESC, kind, src, dst
