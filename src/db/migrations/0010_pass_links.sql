ALTER TABLE "visit_passes" ADD COLUMN "link_hash" varchar(64);--> statement-breakpoint
CREATE UNIQUE INDEX "visit_passes_link_idx" ON "visit_passes" USING btree ("link_hash");