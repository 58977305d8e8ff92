-- Issue 5: the hourly application limit (APPLY_PER_HOUR) kept per caller, so the statement that
-- writes applications checks and updates it in O(1) under the row's lock instead of counting
-- the caller's applications of the last hour under an advisory lock (src/db/schema.ts).
-- Updated on every application: room on each page for HOT updates.
CREATE TABLE "apply_windows" (
	"phone" varchar(11) PRIMARY KEY NOT NULL,
	"times" bigint[] NOT NULL
) WITH (fillfactor = 50);--> statement-breakpoint
-- Callers' applications of the last hour before the upgrade still count.
INSERT INTO "apply_windows" ("phone", "times")
SELECT "proposer", array_agg("created_at" ORDER BY "created_at" DESC)
FROM "applications"
WHERE "created_at" > extract(epoch FROM now())::bigint - 3600
GROUP BY "proposer";
