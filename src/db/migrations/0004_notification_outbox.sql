-- Issue 5: the notifications table is its own outbox (src/jobs/notify-worker.ts) instead of a
-- pg-boss job per message. A pending row is due once due_at has passed; existing pending rows
-- are due at once. The partial index holds only what is still to send.
ALTER TABLE "notifications" ADD COLUMN "due_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
CREATE INDEX "notifications_due_idx" ON "notifications" USING btree ("due_at","id") WHERE status = 'pending';