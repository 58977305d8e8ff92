CREATE TABLE "ledger_export_chunks" (
	"export_id" bigint NOT NULL,
	"seq" integer NOT NULL,
	"data" "bytea" NOT NULL,
	CONSTRAINT "ledger_export_chunks_export_id_seq_pk" PRIMARY KEY("export_id","seq")
);
--> statement-breakpoint
CREATE TABLE "ledger_exports" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"admin_id" bigint NOT NULL,
	"format" varchar(8) NOT NULL,
	"filters" jsonb NOT NULL,
	"full_phones" boolean DEFAULT false NOT NULL,
	"reason" varchar(200),
	"max_id" bigint NOT NULL,
	"status" varchar(12) DEFAULT 'queued' NOT NULL,
	"rows_total" integer,
	"rows_done" integer DEFAULT 0 NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"lease_until" bigint,
	"error" text,
	"bytes" bigint,
	"created_at" bigint NOT NULL,
	"finished_at" bigint
);
--> statement-breakpoint
ALTER TABLE "ledger_export_chunks" ADD CONSTRAINT "ledger_export_chunks_export_id_ledger_exports_id_fk" FOREIGN KEY ("export_id") REFERENCES "public"."ledger_exports"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ledger_exports_created_idx" ON "ledger_exports" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "applications_created_idx" ON "applications" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "applications_window_idx" ON "applications" USING btree ("end_time","start_time");