-- The customer's numbering of the stream (public positions), beside the staff one (positions).

-- AlterTable
ALTER TABLE "Conversation" ADD COLUMN     "lastPublicPosition" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "publicPosition" INTEGER;

-- CreateIndex
CREATE UNIQUE INDEX "Message_conversationId_publicPosition_key" ON "Message"("conversationId", "publicPosition");

-- Written by hand: the stream's changes, and the data below, come from the usernames/reactions/pins
-- migration (20261206185733). Migrations run in order, so it is there; the checks let this one also
-- apply to a database that does not have it yet (the data-migration test of test/db.test.ts applies
-- every migration but that one first): that migration's table then gets its column when it runs.
DO $$
BEGIN
  IF to_regclass('"ConversationChange"') IS NOT NULL THEN
    ALTER TABLE "ConversationChange" ADD COLUMN "publicPosition" INTEGER;
    CREATE UNIQUE INDEX "ConversationChange_conversationId_publicPosition_key" ON "ConversationChange"("conversationId", "publicPosition");

    -- Public messages and changes to public messages are numbered 1, 2, 3 … per conversation in
    -- stream order; internal notes and changes to them stay NULL (staff only).
    WITH entries AS (
      SELECT m."conversationId", m.position, m.id AS "messageId", NULL::int AS "changePosition"
      FROM "Message" m WHERE m.visibility = 'PUBLIC'
      UNION ALL
      SELECT c."conversationId", c.position, NULL::uuid, c.position
      FROM "ConversationChange" c JOIN "Message" m ON m.id = c."messageId" WHERE m.visibility = 'PUBLIC'
    ), numbered AS (
      SELECT e.*, row_number() OVER (PARTITION BY e."conversationId" ORDER BY e.position) AS n FROM entries e
    ), messages AS (
      UPDATE "Message" m SET "publicPosition" = n.n FROM numbered n WHERE n."messageId" = m.id
    ), changes AS (
      UPDATE "ConversationChange" c SET "publicPosition" = n.n
      FROM numbered n WHERE n."messageId" IS NULL AND n."conversationId" = c."conversationId" AND n."changePosition" = c.position
    )
    UPDATE "Conversation" conv SET "lastPublicPosition" = t.n
    FROM (SELECT "conversationId", max(n) AS n FROM numbered GROUP BY "conversationId") t
    WHERE t."conversationId" = conv.id;
  END IF;
END $$;
