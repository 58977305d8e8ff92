CREATE TABLE "redeemed_oauth_codes" (
	"code_hash" varchar(64) PRIMARY KEY NOT NULL,
	"redeemed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "redeemed_oauth_codes_at_idx" ON "redeemed_oauth_codes" USING btree ("redeemed_at");