CREATE TABLE "app_state" (
	"key" varchar(64) PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "application_people" (
	"application_id" bigint NOT NULL,
	"role" varchar(16) NOT NULL,
	"position" smallint NOT NULL,
	"name" varchar(64) NOT NULL,
	"phone" varchar(11) NOT NULL,
	"is_proposer" boolean NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "application_people_application_id_position_pk" PRIMARY KEY("application_id","position")
);
--> statement-breakpoint
CREATE TABLE "applications" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"subject_type" smallint DEFAULT 1 NOT NULL,
	"kind" varchar(16) NOT NULL,
	"name" varchar(32) NOT NULL,
	"phone" varchar(11) NOT NULL,
	"purpose" integer DEFAULT 0 NOT NULL,
	"purpose_name" varchar(64) DEFAULT '' NOT NULL,
	"come_from" varchar(64) DEFAULT '' NOT NULL,
	"remark" varchar(200) DEFAULT '' NOT NULL,
	"proposer" varchar(11) NOT NULL,
	"proposer_weixin_user_id" varchar(128) NOT NULL,
	"interviewee" varchar(64) NOT NULL,
	"interviewee_phone" varchar(11) NOT NULL,
	"interviewee_subject_id" integer NOT NULL,
	"start_time" bigint NOT NULL,
	"end_time" bigint NOT NULL,
	"is_auth" smallint NOT NULL,
	"auth_time" bigint,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"owner" varchar(128) NOT NULL,
	"key" varchar(128) NOT NULL,
	"request_hash" varchar(64) NOT NULL,
	"application_id" bigint,
	"response" jsonb,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "idempotency_keys_owner_key_pk" PRIMARY KEY("owner","key")
);
--> statement-breakpoint
CREATE TABLE "landed_files" (
	"source_url" text PRIMARY KEY NOT NULL,
	"storage_key" text NOT NULL,
	"content_type" varchar(64) NOT NULL,
	"bytes" integer NOT NULL,
	"landed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"application_id" bigint NOT NULL,
	"event" varchar(48) NOT NULL,
	"channel" varchar(8) NOT NULL,
	"phone" varchar(11) NOT NULL,
	"template" varchar(64) NOT NULL,
	"payload" jsonb NOT NULL,
	"status" varchar(12) DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"provider_ref" varchar(128),
	"created_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "rate_counters" (
	"bucket" varchar(160) NOT NULL,
	"window_start" bigint NOT NULL,
	"hits" integer NOT NULL,
	CONSTRAINT "rate_counters_bucket_window_start_pk" PRIMARY KEY("bucket","window_start")
);
--> statement-breakpoint
CREATE TABLE "sms_codes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"phone" varchar(11) NOT NULL,
	"code_hash" varchar(64) NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"wrong_tries" smallint DEFAULT 0 NOT NULL,
	"spent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "staff_cache" (
	"phone" varchar(11) PRIMARY KEY NOT NULL,
	"subject_id" integer NOT NULL,
	"name" varchar(64) NOT NULL,
	"department" varchar(128) DEFAULT '' NOT NULL,
	"koala_avatar_url" text DEFAULT '' NOT NULL,
	"refreshed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "application_people" ADD CONSTRAINT "application_people_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "application_people_involving_idx" ON "application_people" USING btree ("phone","created_at" DESC NULLS LAST,"application_id" DESC NULLS LAST) WHERE NOT "application_people"."is_proposer";--> statement-breakpoint
CREATE INDEX "applications_proposer_created_idx" ON "applications" USING btree ("proposer","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "notifications_application_idx" ON "notifications" USING btree ("application_id");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_dedupe_idx" ON "notifications" USING btree ("application_id","event","channel","phone");--> statement-breakpoint
CREATE INDEX "rate_counters_window_idx" ON "rate_counters" USING btree ("window_start");--> statement-breakpoint
CREATE INDEX "sms_codes_phone_created_idx" ON "sms_codes" USING btree ("phone","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "staff_cache_subject_idx" ON "staff_cache" USING btree ("subject_id");