-- TRUNCATE skips row triggers (migration 0005): tell every process to drop its whole cache.
CREATE OR REPLACE FUNCTION signalpost_notify_cache_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('signalpost_cache', 'all');
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER api_keys_truncate_cache AFTER TRUNCATE ON "api_keys"
  FOR EACH STATEMENT EXECUTE FUNCTION signalpost_notify_cache_all();
--> statement-breakpoint
CREATE TRIGGER tenants_truncate_cache AFTER TRUNCATE ON "tenants"
  FOR EACH STATEMENT EXECUTE FUNCTION signalpost_notify_cache_all();
--> statement-breakpoint
CREATE TRIGGER event_types_truncate_cache AFTER TRUNCATE ON "event_types"
  FOR EACH STATEMENT EXECUTE FUNCTION signalpost_notify_cache_all();
