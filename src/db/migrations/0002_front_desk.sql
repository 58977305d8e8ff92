CREATE TABLE "admins" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"username" varchar(64) NOT NULL,
	"password_hash" text NOT NULL,
	"session_version" integer DEFAULT 0 NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "admins_username_key" UNIQUE("username")
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" bigint NOT NULL,
	"actor_kind" varchar(16) NOT NULL,
	"actor_id" varchar(128) NOT NULL,
	"action" varchar(64) NOT NULL,
	"target_type" varchar(32) NOT NULL,
	"target_id" varchar(128) NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "devices" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"name" varchar(64) NOT NULL,
	"kind" varchar(16) NOT NULL,
	"token_hash" varchar(64) NOT NULL,
	"created_at" bigint NOT NULL,
	"revoked_at" bigint,
	CONSTRAINT "devices_token_hash_key" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" varchar(64) PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "visit_passes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"application_id" bigint NOT NULL,
	"position" smallint NOT NULL,
	"name" varchar(64) NOT NULL,
	"phone" varchar(11) NOT NULL,
	"token_salt" varchar(32) NOT NULL,
	"token_hash" varchar(64) NOT NULL,
	"subject_id" integer,
	"koala_lease_until" bigint,
	"koala_attempts" integer DEFAULT 0 NOT NULL,
	"koala_error" text,
	"subject_deleted_at" bigint,
	"revoked_at" bigint,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "signin_time" bigint;--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "signout_time" bigint;--> statement-breakpoint
ALTER TABLE "visit_passes" ADD CONSTRAINT "visit_passes_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "audit_log_target_idx" ON "audit_log" USING btree ("target_type","target_id");--> statement-breakpoint
CREATE UNIQUE INDEX "visit_passes_token_idx" ON "visit_passes" USING btree ("token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "visit_passes_person_idx" ON "visit_passes" USING btree ("application_id","position");--> statement-breakpoint
CREATE INDEX "applications_open_visits_idx" ON "applications" USING btree ("end_time") WHERE "applications"."signin_time" is not null and "applications"."signout_time" is null;