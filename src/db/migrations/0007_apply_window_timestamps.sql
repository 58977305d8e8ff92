-- A caller's hourly window becomes the Unix seconds of its newest applications, one entry per
-- application, ascending (applied_at), instead of the seconds of the hour with running counts:
-- the statement that writes applications keeps at most APPLY_PER_HOUR of them
-- (src/db/schema.ts, src/modules/applications/repo/create-applications.ts).
ALTER TABLE "apply_windows" ADD COLUMN "applied_at" bigint[];--> statement-breakpoint
-- Each second of the last hour, repeated as many times as the caller applied in it (its running
-- count less the one before it; `dropped` before the first). Seconds that left the hour no
-- longer count and go. The old window admitted at most the limit in the hour, so a row holds at
-- most the limit in force (with a lower limit, the caller's next application keeps the newest).
UPDATE "apply_windows" AS "w" SET "applied_at" = coalesce((
	SELECT array_agg("p"."s" ORDER BY "p"."s")
	FROM (
		SELECT "u"."s", "u"."running" - coalesce(lag("u"."running") OVER (ORDER BY "u"."s"), "w"."dropped") AS "n"
		FROM unnest("w"."seconds", "w"."upto") AS "u"("s", "running")
	) AS "p", generate_series(1, "p"."n") AS "g"
	WHERE "p"."s" > floor(extract(epoch FROM now()))::bigint - 3600
), '{}');--> statement-breakpoint
ALTER TABLE "apply_windows" ALTER COLUMN "applied_at" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "apply_windows" DROP COLUMN "seconds";--> statement-breakpoint
ALTER TABLE "apply_windows" DROP COLUMN "upto";--> statement-breakpoint
ALTER TABLE "apply_windows" DROP COLUMN "dropped";
