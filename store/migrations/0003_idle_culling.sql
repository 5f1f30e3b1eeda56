-- Idle culling per role and per ZApp (issue 9). Each execution keeps what
-- it was given at submission, so that editing the shop or the
-- configuration never changes the rules for executions already running.
--
-- idle_timeout_seconds: the effective idle timeout, 0 for never; NULL for
--   executions submitted before this migration (the role's current
--   setting applies to them).
-- activity: the ZApp's activity URLs as JSON, NULL for none.
-- last_active_at: the latest use Zoe knows of besides proxy traffic (an
--   extension by the owner, activity a service reported); NULL for none.
ALTER TABLE executions ADD COLUMN idle_timeout_seconds BIGINT;
ALTER TABLE executions ADD COLUMN activity {{json}};
ALTER TABLE executions ADD COLUMN last_active_at {{time}};
