CREATE TABLE "endpoint_versions" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"version" bigint NOT NULL
);
--> statement-breakpoint
CREATE SEQUENCE "endpoint_version_seq";
--> statement-breakpoint
-- Tenants that already have endpoints start with a version (a publish's cache of them needs one).
INSERT INTO "endpoint_versions" ("tenant_id", "version")
  SELECT "tenant_id", nextval('endpoint_version_seq') FROM (SELECT DISTINCT "tenant_id" FROM "endpoints") t;
--> statement-breakpoint
-- Bumps the version of the tenant(s) whose endpoints a row change touches (both, if the endpoint
-- moved). Row triggers, so the bump commits with the change; a concurrent publish reads either the
-- old version (and the endpoints as they were) or the new one.
CREATE OR REPLACE FUNCTION signalpost_bump_endpoint_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO endpoint_versions (tenant_id, version) VALUES (OLD.tenant_id, nextval('endpoint_version_seq'))
      ON CONFLICT (tenant_id) DO UPDATE SET version = EXCLUDED.version;
  END IF;
  IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id) THEN
    INSERT INTO endpoint_versions (tenant_id, version) VALUES (NEW.tenant_id, nextval('endpoint_version_seq'))
      ON CONFLICT (tenant_id) DO UPDATE SET version = EXCLUDED.version;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Only the columns fan-out reads (not failing_since, written by every failing delivery batch, nor
-- url, headers, description...), and only when one of them really changes.
CREATE TRIGGER endpoints_bump_version_update
  AFTER UPDATE OF id, tenant_id, event_types, symbols, max_concurrency, disabled, deleted_at ON "endpoints"
  FOR EACH ROW
  WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id
    OR OLD.event_types IS DISTINCT FROM NEW.event_types
    OR OLD.symbols IS DISTINCT FROM NEW.symbols OR OLD.max_concurrency IS DISTINCT FROM NEW.max_concurrency
    OR OLD.disabled IS DISTINCT FROM NEW.disabled OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
  EXECUTE FUNCTION signalpost_bump_endpoint_version();
--> statement-breakpoint
CREATE TRIGGER endpoints_bump_version_insert_delete AFTER INSERT OR DELETE ON "endpoints"
  FOR EACH ROW EXECUTE FUNCTION signalpost_bump_endpoint_version();
--> statement-breakpoint
-- Fan-out reads only live tenants' endpoints: a tenant deleted or restored (by hand; the API
-- disables a deleted tenant's endpoints too) moves its version.
CREATE OR REPLACE FUNCTION signalpost_bump_tenant_endpoint_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO endpoint_versions (tenant_id, version) VALUES (NEW.id, nextval('endpoint_version_seq'))
    ON CONFLICT (tenant_id) DO UPDATE SET version = EXCLUDED.version;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER tenants_bump_endpoint_version AFTER UPDATE OF deleted_at ON "tenants"
  FOR EACH ROW WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
  EXECUTE FUNCTION signalpost_bump_tenant_endpoint_version();
--> statement-breakpoint
-- TRUNCATE skips row triggers: every tenant's version moves.
CREATE OR REPLACE FUNCTION signalpost_bump_all_endpoint_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE endpoint_versions SET version = nextval('endpoint_version_seq');
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER endpoints_truncate_bump_versions AFTER TRUNCATE ON "endpoints"
  FOR EACH STATEMENT EXECUTE FUNCTION signalpost_bump_all_endpoint_versions();
