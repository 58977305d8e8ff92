CREATE TABLE "session_revocations" (
	"weixin_user_id" varchar(128) PRIMARY KEY NOT NULL,
	"revoked_before" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "session_revocations_at_idx" ON "session_revocations" USING btree ("revoked_before");