-- CreateEnum
CREATE TYPE "WidgetPosition" AS ENUM ('BOTTOM_RIGHT', 'BOTTOM_LEFT');

-- AlterTable
ALTER TABLE "ChatbotSettings" ADD COLUMN     "avatarUrl" TEXT,
ADD COLUMN     "position" "WidgetPosition" NOT NULL DEFAULT 'BOTTOM_RIGHT';

-- Full-text search over live messages (searchMessages). Prisma's schema cannot express an
-- expression index, so it is written here by hand; the query in
-- src/modules/conversations/search.ts uses the same expression and predicate so the planner can
-- use it.
CREATE INDEX "Message_body_search_idx" ON "Message" USING GIN (to_tsvector('english'::regconfig, "body")) WHERE "deletedAt" IS NULL;
