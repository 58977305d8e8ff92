-- Issue 5: a caller's hourly window keeps a running count per second (upto) instead of the
-- second's own count, and the running count of the seconds that left the hour (dropped), so the
-- statement that writes applications finds the caller's applications in the hour by a binary
-- search over the seconds (width_bucket) instead of reading every pair (src/db/schema.ts).
ALTER TABLE "apply_windows" ADD COLUMN "upto" bigint[];--> statement-breakpoint
ALTER TABLE "apply_windows" ADD COLUMN "dropped" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Every pair kept, in ascending seconds (the binary search needs them sorted).
UPDATE "apply_windows" AS "w" SET "seconds" = "r"."seconds", "upto" = "r"."upto"
FROM (
	SELECT "phone", array_agg("s" ORDER BY "s") AS "seconds", array_agg("running" ORDER BY "s") AS "upto"
	FROM (
		SELECT "phone", "s", sum("c") OVER (PARTITION BY "phone" ORDER BY "s")::bigint AS "running"
		FROM "apply_windows", unnest("seconds", "counts") AS "u"("s", "c")
	) AS "pairs"
	GROUP BY "phone"
) AS "r"
WHERE "r"."phone" = "w"."phone";--> statement-breakpoint
UPDATE "apply_windows" SET "seconds" = '{}', "upto" = '{}' WHERE "upto" IS NULL;--> statement-breakpoint
ALTER TABLE "apply_windows" ALTER COLUMN "upto" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "apply_windows" DROP COLUMN "counts";
