-- Issue 5: the record lists (3.9, 3.10) are cached per phone in each replica. Every change to
-- what they show NOTIFYs `laifang_records` with the phones whose lists changed (delivered at
-- commit, to every replica), or `*` when too many to name. Statement-level triggers with
-- transition tables: one notification per statement, not per row.
CREATE FUNCTION laifang_notify_records(phones text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  payload text := '';
  p text;
BEGIN
  IF phones IS NULL OR cardinality(phones) = 0 THEN
    RETURN;
  END IF;
  IF cardinality(phones) > 500 THEN
    PERFORM pg_notify('laifang_records', '*');
    RETURN;
  END IF;
  FOREACH p IN ARRAY phones LOOP
    CONTINUE WHEN p IS NULL OR p = '';
    IF payload <> '' AND length(payload) + length(p) + 1 > 7000 THEN
      PERFORM pg_notify('laifang_records', payload);
      payload := '';
    END IF;
    payload := CASE WHEN payload = '' THEN p ELSE payload || ',' || p END;
  END LOOP;
  IF payload <> '' THEN
    PERFORM pg_notify('laifang_records', payload);
  END IF;
END $$;
--> statement-breakpoint
CREATE FUNCTION laifang_people_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM laifang_notify_records(ARRAY(SELECT DISTINCT phone FROM laifang_new LIMIT 501));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM laifang_notify_records(ARRAY(SELECT DISTINCT phone FROM laifang_old LIMIT 501));
  ELSE
    PERFORM laifang_notify_records(ARRAY(SELECT phone FROM laifang_new UNION SELECT phone FROM laifang_old LIMIT 501));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION laifang_applications_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('laifang_records', '*');
  ELSE
    -- An application's people name every list it is in (the proposer is one of them).
    PERFORM laifang_notify_records(ARRAY(
      SELECT DISTINCT p.phone FROM laifang_new n JOIN application_people p ON p.application_id = n.id LIMIT 501));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER application_people_inserted AFTER INSERT ON application_people
  REFERENCING NEW TABLE AS laifang_new FOR EACH STATEMENT EXECUTE FUNCTION laifang_people_changed();
--> statement-breakpoint
CREATE TRIGGER application_people_deleted AFTER DELETE ON application_people
  REFERENCING OLD TABLE AS laifang_old FOR EACH STATEMENT EXECUTE FUNCTION laifang_people_changed();
--> statement-breakpoint
CREATE TRIGGER application_people_updated AFTER UPDATE ON application_people
  REFERENCING OLD TABLE AS laifang_old NEW TABLE AS laifang_new FOR EACH STATEMENT EXECUTE FUNCTION laifang_people_changed();
--> statement-breakpoint
CREATE TRIGGER applications_updated AFTER UPDATE ON applications
  REFERENCING NEW TABLE AS laifang_new FOR EACH STATEMENT EXECUTE FUNCTION laifang_applications_changed();
--> statement-breakpoint
CREATE TRIGGER applications_truncated AFTER TRUNCATE ON applications
  FOR EACH STATEMENT EXECUTE FUNCTION laifang_applications_changed();
--> statement-breakpoint
CREATE TRIGGER application_people_truncated AFTER TRUNCATE ON application_people
  FOR EACH STATEMENT EXECUTE FUNCTION laifang_applications_changed();
