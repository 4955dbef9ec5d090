CREATE TABLE "signal_snapshots" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"batch_id" text NOT NULL,
	"source" text NOT NULL,
	"symbol" text NOT NULL,
	"kind" text NOT NULL,
	"timeframe" text DEFAULT '' NOT NULL,
	"value" jsonb NOT NULL,
	"observed_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "upstream_calls" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"path" text NOT NULL,
	"called_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "signal_snapshots_key_idx" ON "signal_snapshots" USING btree ("source","symbol","kind","timeframe","observed_at","seq");--> statement-breakpoint
CREATE INDEX "signal_snapshots_batch_idx" ON "signal_snapshots" USING btree ("batch_id");--> statement-breakpoint
CREATE INDEX "upstream_calls_called_idx" ON "upstream_calls" USING btree ("called_at");