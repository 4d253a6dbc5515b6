-- The egress rule, one boolean expression over a conn row aliased `c` (zones.sql and
-- direct_attempts.sql insert it where they say {egress_session}): the row carried data across
-- the boundary, so the host that originated it has internet access of its own.
--   * the external side sent payload (resp_bytes > 0): the session reached it, whatever the
--     state says (a sensor that sees one direction of an allowed session logs SF/S1 with
--     orig_bytes 0 and resp_bytes > 0); a mid-stream row (OTH) needs payload both ways, since
--     Zeek guesses the originator of a session whose start it missed;
--   * or the handshake completed (SF, S1, S2, S3, RSTO, RSTR) and the originator sent payload;
--   * or the log has neither a state nor byte counts (a reduced export): any session counts,
--     as nothing tells an attempt from a session.
-- What a firewall lets the sensor log of a blocked attempt never matches: S0 (no answer, UDP
-- payload sent into the void included), REJ (reset), SH/SHR/RSTOS0/RSTRH (half-open), a lone
-- packet (OTH without payload both ways).
(
    (COALESCE(c.resp_bytes, 0) > 0
        AND (COALESCE(c.conn_state, '') <> 'OTH' OR COALESCE(c.orig_bytes, 0) > 0))
    OR (c.conn_state IN ('SF', 'S1', 'S2', 'S3', 'RSTO', 'RSTR') AND COALESCE(c.orig_bytes, 0) > 0)
    OR (c.conn_state IS NULL AND c.orig_bytes IS NULL AND c.resp_bytes IS NULL)
)
