-- Issue 5: the hourly application limit (APPLY_PER_HOUR) kept per caller as applications per
-- second of the last hour, so the statement that writes applications checks and updates it
-- under the row's lock (at most 3,600 pairs) instead of counting the caller's applications of
-- the last hour under an advisory lock (src/db/schema.ts). Updated on every application: room on
-- each page for HOT updates.
CREATE TABLE "apply_windows" (
	"phone" varchar(11) PRIMARY KEY NOT NULL,
	"seconds" bigint[] NOT NULL,
	"counts" integer[] NOT NULL,
	"taken" integer DEFAULT 0 NOT NULL
) WITH (fillfactor = 50);--> statement-breakpoint
-- Callers' applications of the last hour before the upgrade still count.
INSERT INTO "apply_windows" ("phone", "seconds", "counts")
SELECT "proposer", array_agg("created_at" ORDER BY "created_at"), array_agg("n" ORDER BY "created_at")
FROM (
	SELECT "proposer", "created_at", count(*)::int AS "n"
	FROM "applications"
	WHERE "created_at" > extract(epoch FROM now())::bigint - 3600
	GROUP BY "proposer", "created_at"
) AS "per_second"
GROUP BY "proposer";
--> statement-breakpoint
-- A record's messages are found by the leading column of notifications_dedupe_idx
-- (application_id, event, channel, phone): this one only cost two more index entries per application.
DROP INDEX "notifications_application_idx";
