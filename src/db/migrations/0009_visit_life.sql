ALTER TABLE "applications" ADD COLUMN "outcome" varchar(16);--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "status_reason" varchar(100) DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "revision" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "status" varchar(16) GENERATED ALWAYS AS (coalesce(outcome, case when signout_time is not null then 'checked_out' when signin_time is not null then 'signed_in' when is_auth = 1 then 'approved' else 'pending' end)) STORED NOT NULL;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "revision" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "applications_undecided_idx" ON "applications" USING btree ("end_time") WHERE "applications"."outcome" is null and "applications"."signin_time" is null;--> statement-breakpoint
DROP INDEX "notifications_dedupe_idx";--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_dedupe_idx" ON "notifications" USING btree ("application_id","event","channel","phone","revision");;--> statement-breakpoint
-- Visits whose window ended before this release without a sign-in are closed here, untold: the
-- expiry sweep then only meets visits that end from now on.
UPDATE "applications" SET "outcome" = CASE WHEN "is_auth" = 1 THEN 'no_show' ELSE 'expired' END
  WHERE "outcome" IS NULL AND "signin_time" IS NULL AND "end_time" <= extract(epoch from now())::bigint;--> statement-breakpoint
-- Every outbox row carries its application's revision (how many times its window changed), so a
-- visit moved to a new time tells its people again without a writer having to know.
CREATE FUNCTION laifang_outbox_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.revision := coalesce((SELECT a.revision FROM applications a WHERE a.id = NEW.application_id), 0);
  RETURN NEW;
END $$;--> statement-breakpoint
CREATE TRIGGER notifications_revision BEFORE INSERT ON notifications
  FOR EACH ROW EXECUTE FUNCTION laifang_outbox_revision();
