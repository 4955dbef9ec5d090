CREATE TABLE "oauth_signing_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"alg" text NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"enc_key_id" text NOT NULL,
	"private_ciphertext" text NOT NULL,
	"retired_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rate_limit_buckets" (
	"bucket" text PRIMARY KEY NOT NULL,
	"tat" double precision NOT NULL,
	"interval_ms" double precision NOT NULL,
	"burst" integer NOT NULL,
	"allowed" boolean NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "oauth_signing_keys_live_idx" ON "oauth_signing_keys" USING btree ("retired_at","expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "oauth_signing_keys_current_uq" ON "oauth_signing_keys" USING btree ("alg") WHERE retired_at is null;