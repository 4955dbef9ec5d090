-- Rate-limit buckets are recomputed from nothing within a second: no WAL for them (a commit that
-- touched only them does not wait for a WAL flush). After a crash they start empty.
ALTER TABLE "rate_limit_buckets" SET UNLOGGED;
--> statement-breakpoint
-- Every process caches API keys and event types (src/runtime/reference-cache.ts); these triggers
-- tell all of them, at commit, which rows changed, whatever code or SQL changed them.
CREATE OR REPLACE FUNCTION signalpost_notify_cache() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'event_types' THEN
    PERFORM pg_notify('signalpost_cache', 'event_types');
  ELSIF TG_TABLE_NAME = 'api_keys' THEN
    PERFORM pg_notify('signalpost_cache', 'key:' || OLD.id);
  ELSE
    PERFORM pg_notify('signalpost_cache', 'tenant:' || OLD.id);
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Not on last_used_at (written once a minute per key in use; nothing reads it from the cache).
CREATE TRIGGER api_keys_notify_cache
  AFTER UPDATE OF id, tenant_id, role, name, prefix, secret_hash, scopes, ip_allowlist, expires_at, revoked_at, rotated_from_id
  OR DELETE ON "api_keys"
  FOR EACH ROW EXECUTE FUNCTION signalpost_notify_cache();
--> statement-breakpoint
CREATE TRIGGER tenants_notify_cache AFTER UPDATE OF id, deleted_at OR DELETE ON "tenants"
  FOR EACH ROW EXECUTE FUNCTION signalpost_notify_cache();
--> statement-breakpoint
CREATE TRIGGER event_types_notify_cache AFTER INSERT OR UPDATE OR DELETE ON "event_types"
  FOR EACH STATEMENT EXECUTE FUNCTION signalpost_notify_cache();
